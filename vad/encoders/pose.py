"""Pose (MoveNet): 17 COCO keypoints per image or person box (SinglePose Lightning / Thunder),
or per person for up to six people at once (MultiPose Lightning).

`export_pose` turns the pulled TF.js graph model into ONNX (`vad/encoders/tfjs.py`, no
TensorFlow); `PoseEstimator` runs it. MoveNet's own decoding (centre heatmap weighted towards the
middle of the input, regression to each keypoint, refinement by the keypoint heatmaps and
offsets) is part of the graph, so the ONNX output is already (y, x, score) per keypoint in the
unit square of its 192 x 192 input. What remains is done here in numpy: padding the image to a
square (MoveNet is trained on undistorted people), and mapping the keypoints back to the
image's pixels. MultiPose's graph likewise ends with its decoded people: (1, 6, 56) = per person
17 x (y, x, score), then its box (ymin, xmin, ymax, xmax) and its score.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import cv2
import numpy as np

from vad.encoders.runtime import MANIFEST, ModelCorrupt, ModelError, open_session, read_manifest
from vad.encoders.staging import staged_folder

log = logging.getLogger(__name__)

KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
INPUT_SIZE = 192
MULTIPOSE_SIZE = 256  # MultiPose takes any multiple of 32; 256 is its model card's size
MULTIPOSE_VALUES = 56  # per person: 17 keypoints x (y, x, score) + box (4) + score


def export_pose(model_json: Path, out_dir: Path, name: str | None = None) -> Path:
    """Convert a pulled MoveNet TF.js graph (model json + weight shard next to it) to
    `out_dir`/model.onnx + manifest.json (kind "pose")."""
    from vad.encoders.tfjs import TfjsError, convert

    out_dir = Path(out_dir)
    name = name or out_dir.name
    try:
        model = convert(Path(model_json), name)
    except (OSError, TfjsError, KeyError, ValueError) as error:
        raise ModelError(
            f"cannot convert {model_json} ({error}); pull it again with `vad models pull {name}`"
        ) from error
    import onnx

    with staged_folder(out_dir) as tmp:
        onnx.save(model, str(tmp / "model.onnx"))
        out_dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
        multi = out_dims[-1] == MULTIPOSE_VALUES
        default_size = MULTIPOSE_SIZE if multi else INPUT_SIZE
        size = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value or default_size
        manifest = {
            "format": 1,
            "kind": "pose",
            "name": name,
            "family": "movenet-multipose" if multi else "movenet",
            "source": str(model_json),
            "image_size": int(size),
            "keypoints": list(KEYPOINTS),
            "resize": "pad to a centred square (black), resize to image_size (bilinear), RGB int32",
            "output": (
                "(1, 6, 56): per person 17 x (y, x, score), box ymin, xmin, ymax, xmax, score"
                if multi
                else "(1, 1, 17, 3): y, x, score per keypoint"
            )
            + ", in the unit square of the input",
            "opset": model.opset_import[0].version,
            "files": {"model": "model.onnx"},
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "exporter": {"onnx": onnx.__version__, "builder": "vad.encoders.tfjs (no TensorFlow)"},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log.info("exported %s (movenet, %s px) to %s", name, size, out_dir)
    return out_dir


@dataclass(frozen=True, slots=True)
class Person:
    """One person MultiPose found: (17, 3) keypoints (x, y in the image's pixels, score), the
    box (x1, y1, x2, y2 pixels) and the person's score."""

    keypoints: np.ndarray
    box: tuple[float, float, float, float]
    score: float


class PoseEstimator:
    """`estimate(image[, box])` -> (17, 3) float32 rows (x, y, score), x and y in the image's
    pixels, in `KEYPOINTS` order."""

    KIND = "pose"

    def __init__(
        self, model_dir: Path, manifest: dict, providers: list[str] | None = None, threads: int = 0
    ) -> None:
        self.model_dir = Path(model_dir)
        self.manifest = manifest
        self.name: str = manifest["name"]
        self.size = int(manifest["image_size"])
        self.keypoints: tuple[str, ...] = tuple(manifest.get("keypoints", KEYPOINTS))
        path = self.model_dir / manifest["files"]["model"]
        self._session = open_session(path, self.name, providers, threads)
        self._input = self._session.get_inputs()[0].name
        self.providers: list[str] = self._session.get_providers()

    @classmethod
    def load(cls, model_dir: Path, providers: list[str] | None = None, threads: int = 0) -> Self:
        manifest = read_manifest(Path(model_dir))
        if manifest.get("kind") != cls.KIND:
            raise ModelCorrupt(f"{model_dir} holds a {manifest.get('kind')!r} model, not pose")
        return cls(Path(model_dir), manifest, providers, threads)

    def _run(self, image: np.ndarray, box) -> tuple[np.ndarray, float, float, int]:
        """The graph's raw output for the square view of `image` (or of `box`), with the
        square's left, top and side to map the unit square back to the image."""
        square, left, top, side = _square(image, box)
        pixels = cv2.resize(square, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB).astype(np.int32)[None]
        return self._session.run(None, {self._input: rgb})[0], left, top, side

    def people(self, image: np.ndarray, min_score: float = 0.2) -> list[Person]:
        """MultiPose: everyone found in `image` with a score >= `min_score`, best first."""
        if self.manifest.get("family") != "movenet-multipose":
            raise ModelCorrupt(f"{self.name} is a single-person model: use estimate()")
        raw, left, top, side = self._run(image, None)
        out = []
        for row in raw.reshape(-1, MULTIPOSE_VALUES):
            if row[55] < min_score:
                continue
            keypoints = _to_image(row[:51].reshape(17, 3), left, top, side)
            ymin, xmin, ymax, xmax = row[51:55] * side
            box = (xmin + left, ymin + top, xmax + left, ymax + top)
            out.append(Person(keypoints, tuple(float(v) for v in box), float(row[55])))
        return sorted(out, key=lambda p: -p.score)

    def estimate(
        self, image: np.ndarray, box: tuple[float, float, float, float] | None = None
    ) -> np.ndarray:
        """Keypoints of the most prominent person in `image`, or of the person in `box`
        (x1, y1, x2, y2 pixels; a square around it, 25 % larger, is what the model sees)."""
        if self.manifest.get("family") == "movenet-multipose":
            raise ModelCorrupt(f"{self.name} is a multi-person model: use people()")
        raw, left, top, side = self._run(image, box)
        return _to_image(raw.reshape(-1, 3), left, top, side)


def _to_image(raw: np.ndarray, left: float, top: float, side: int) -> np.ndarray:
    """(17, 3) rows (y, x, score) in the unit square -> (x, y, score) in the image's pixels."""
    out = np.empty_like(raw, dtype=np.float32)
    out[:, 0] = raw[:, 1] * side + left
    out[:, 1] = raw[:, 0] * side + top
    out[:, 2] = raw[:, 2]
    return out


def _square(
    image: np.ndarray, box: tuple[float, float, float, float] | None
) -> tuple[np.ndarray, float, float, int]:
    """A square view centred on `box` (or the whole image), zero-padded where it leaves the
    image: (pixels, left, top, side) with left/top in image coordinates."""
    h, w = image.shape[:2]
    if box is None:
        cx, cy, side = w / 2, h / 2, max(w, h)
    else:
        x1, y1, x2, y2 = box
        cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 1.25
    side = max(int(round(side)), 1)
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    canvas = np.zeros((side, side, 3), np.uint8)
    bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    sx0, sy0 = max(left, 0), max(top, 0)
    sx1, sy1 = min(left + side, w), min(top + side, h)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - top : sy1 - top, sx0 - left : sx1 - left] = bgr[sy0:sy1, sx0:sx1, :3]
    return canvas, float(left), float(top), side
