"""Appearance of each object: the appearance model with the key frame's objects as its regions.

The tile appearance model (`appearance_normality`) embeds fixed square tiles of the whole view; a
cyclist is a small part of a tile, so its embedding moves little and the model lowered UCSD Ped1
beside the object and velocity models (docs/benchmarks-normality.md, the object round). Here the
regions are the objects themselves (issue 17 item 3: "appearance of each object from a real
backbone on the crop"):

* the key frame's detections the object model keeps (`object_normality.relevant`), made once by
  `detect_key_frames` for both models, and
* moving regions no detection covers: the SSD misses most cyclists at these resolutions (the
  object round), so the parts of the view that changed since `change_gap` frames earlier (small
  blurred grey copies, `change_level`, connected components of at least `change_min_area` of the
  view) whose centre lies in no detection are objects too.

Each region is cut as a square with a margin and embedded (a small-input export of the same
MobileNetV2 weights, e.g. `mobilenetv2-112`: crops are small, so 224 px would only upsample them).
A crop's novelty is its cosine distance to the nearest of the camera's normal crops, in units of
the held-out reference distance; the key frame's novelty is its most novel object's (0 with no
object), held on the frames between key frames as the detections are, smoothed causally and
calibrated by `TailCalibrator` on contiguous held-out folds, as the other models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from vad.scoring.appearance_normality import (
    AppearanceNormalityConfig,
    AppearanceVerdict,
    where,
)
from vad.scoring.normality.calibration import TailCalibrator, contiguous_folds
from vad.scoring.normality.smoothing import smooth_scores
from vad.scoring.object_normality import ObjectNormalityConfig, relevant

FORMAT_VERSION = 1
CROPS_JSON = "appearance-objects.json"
_CROPS_NPZ = "appearance-objects.npz"
_WIDTH = 160  # grey width the change mask is computed at: cheap, and blind to sensor noise
_MIN_SIDE = 8  # px: a crop smaller than this says nothing to the encoder

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) in frame pixels


def key_indices(detections: Sequence[Sequence]) -> list[int]:
    """The key frames of `detect_key_frames`'s output: the frames whose detection list is not
    the previous frame's (the frames between key frames share their key frame's list)."""
    return [i for i, d in enumerate(detections) if i == 0 or d is not detections[i - 1]]


def _small_grey(frame: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    h, w = grey.shape[:2]
    small = cv2.resize(grey, (_WIDTH, max(1, round(h * _WIDTH / w))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (5, 5), 0)


def moving_regions(
    frame: np.ndarray, earlier: np.ndarray, level: int, min_area: float
) -> list[Box]:
    """Boxes (frame px) of the connected regions whose blurred grey level changed by more than
    `level` since `earlier`, at least `min_area` of the view each."""
    now, before = _small_grey(frame), _small_grey(earlier)
    mask = (cv2.absdiff(now, before) > level).astype(np.uint8)
    if not mask.any():
        return []
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    scale = frame.shape[1] / mask.shape[1]
    least = min_area * mask.size
    return [
        (
            int(x * scale),
            int(y * scale),
            int(np.ceil((x + w) * scale)),
            int(np.ceil((y + h) * scale)),
        )
        for x, y, w, h, area in stats[1:]
        if area >= least
    ]


def square_box(box: Box, margin: float, width: int, height: int) -> Box:
    """`box` made square around its centre, its longer side plus `margin` of it each side,
    shifted (not cut) to stay inside the frame; at most the frame's shorter side."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    side = int(round(min(max(side, _MIN_SIDE), width, height)))
    left = int(round((x0 + x1 - side) / 2))
    top = int(round((y0 + y1 - side) / 2))
    left, top = min(max(left, 0), width - side), min(max(top, 0), height - side)
    return left, top, left + side, top + side


def frame_objects(
    frame: np.ndarray,
    earlier: np.ndarray | None,
    detections: Sequence,
    config: AppearanceNormalityConfig,
    objects: ObjectNormalityConfig,
) -> list[Box]:
    """A key frame's objects as square crop boxes: the detections the object model keeps, then
    the moving regions (against `earlier`; none without it) whose centre no detection covers."""
    h, w = frame.shape[:2]
    boxes = [
        (int(d.box[0] * w), int(d.box[1] * h), round(d.box[2] * w), round(d.box[3] * h))
        for d in relevant(detections, objects)
    ]
    if earlier is not None:
        level, area = config.change_level, config.change_min_area
        for b in moving_regions(frame, earlier, level, area):
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            if not any(x0 <= cx < x1 and y0 <= cy < y1 for x0, y0, x1, y1 in boxes):
                boxes.append(b)
    return [square_box(b, config.crop_margin, w, h) for b in boxes]


@dataclass(frozen=True)
class ClipCrops:
    """One clip's embedded objects: `keys` the key frames (ascending), each crop's key frame
    position in `keys` (`owner`), its square box and unit embedding."""

    frames: int
    keys: np.ndarray  # (K,) frame indices
    owner: np.ndarray  # (C,) index into keys
    boxes: np.ndarray  # (C, 4) frame px
    embeddings: np.ndarray  # (C, D)


def embed_objects(
    encoder,
    frames: Sequence[np.ndarray],
    detections: Sequence[Sequence],
    config: AppearanceNormalityConfig,
    objects: ObjectNormalityConfig,
) -> ClipCrops:
    """Every key frame's objects of a clip (`detections`: `detect_key_frames`'s output), embedded
    in one encoder batch run."""
    keys = key_indices(detections)
    owner: list[int] = []
    boxes: list[Box] = []
    crops: list[np.ndarray] = []
    for k, i in enumerate(keys):
        earlier = frames[max(0, i - config.change_gap)] if i > 0 else None
        for x0, y0, x1, y1 in frame_objects(frames[i], earlier, detections[i], config, objects):
            owner.append(k)
            boxes.append((x0, y0, x1, y1))
            crops.append(frames[i][y0:y1, x0:x1])
    embeddings = encoder.embed_images(crops) if crops else np.zeros((0, encoder.dim), np.float32)
    return ClipCrops(
        len(frames),
        np.asarray(keys, np.int64),
        np.asarray(owner, np.int64),
        np.asarray(boxes, np.int64).reshape(-1, 4),
        np.asarray(embeddings, np.float32),
    )


def nearest_distances(memory: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Cosine distance of each (C, D) unit embedding to the nearest of (M, D) -> (C,)."""
    if len(embeddings) == 0:
        return np.zeros(0)
    if len(memory) == 0:
        return np.ones(len(embeddings))
    return 1.0 - (embeddings @ memory.T).max(axis=1).astype(np.float64)


def frame_novelty(clip: ClipCrops, ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-frame novelty held from its key frame, per-frame index of the deciding crop or -1)
    from each crop's distance ratio."""
    worst = np.zeros(len(clip.keys))
    which = np.full(len(clip.keys), -1)
    for c, (k, r) in enumerate(zip(clip.owner, ratios, strict=True)):
        if r > worst[k]:
            worst[k], which[k] = r, c
    if len(clip.keys) == 0:
        return np.zeros(clip.frames), np.full(clip.frames, -1)
    held = np.searchsorted(clip.keys, np.arange(clip.frames), side="right") - 1
    held = np.maximum(held, 0)
    return worst[held], which[held]


def _subsample(embeddings: np.ndarray, limit: int) -> np.ndarray:
    if len(embeddings) > limit:
        embeddings = embeddings[np.linspace(0, len(embeddings) - 1, limit).astype(int)]
    return np.ascontiguousarray(embeddings, np.float32)


class ObjectAppearanceModel:
    """Fitted object-crop appearance model of one camera; `score` is pure given the model."""

    def __init__(
        self,
        config: AppearanceNormalityConfig,
        encoder: str,
        frame_size: tuple[int, int],
        memory: np.ndarray,
        reference: float,
        calibrator: TailCalibrator,
        metadata: dict | None = None,
    ) -> None:
        self.config = config
        self.encoder = encoder
        self.frame_size = frame_size
        self.memory = memory.astype(np.float32)
        self.reference = float(reference)
        self.calibrator = calibrator
        self.metadata = metadata or {}

    def novelty(self, clip: ClipCrops) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per frame: the smoothed novelty (reference units) and the deciding crop (-1: none);
        and each crop's distance ratio."""
        if len(clip.embeddings) and clip.embeddings.shape[1] != self.memory.shape[1]:
            raise ValueError(
                f"appearance model expects dim {self.memory.shape[1]}, got "
                f"{clip.embeddings.shape[1]} (encoder changed; relearn)"
            )
        ratios = nearest_distances(self.memory, clip.embeddings) / self.reference
        raw, which = frame_novelty(clip, ratios)
        return smooth_scores(raw, self.config.smoothing_frames, causal=True), which, ratios

    def score(self, clip: ClipCrops) -> list[AppearanceVerdict]:
        """One verdict per frame of the clip (one calibration call)."""
        smoothed, which, ratios = self.novelty(clip)
        scores = self.calibrator(smoothed)
        return [
            AppearanceVerdict(float(s), self._reason(clip, int(c), ratios) if s >= 0.5 else None)
            for s, c in zip(scores, which, strict=True)
        ]

    def _reason(self, clip: ClipCrops, crop: int, ratios: np.ndarray) -> str | None:
        if crop < 0:
            return None
        place = where(0, [tuple(int(v) for v in clip.boxes[crop])], self.frame_size)
        return (
            f"an object in the {place} of the view looks unlike anything this camera showed "
            f"({ratios[crop]:.1f}x the usual distance)"
        )

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        np.savez_compressed(directory / _CROPS_NPZ, memory=self.memory)
        doc = {
            "format_version": FORMAT_VERSION,
            "kind": "vad.appearance.objects",
            "encoder": self.encoder,
            "frame_size": list(self.frame_size),
            "reference": self.reference,
            "config": self.config.model_dump(mode="json"),
            "calibration": self.calibrator.to_dict(),
            "metadata": self.metadata,
        }
        path = directory / CROPS_JSON
        path.write_text(json.dumps(doc, indent=2))
        return path

    @classmethod
    def load(cls, directory: Path) -> ObjectAppearanceModel:
        directory = Path(directory)
        doc = json.loads((directory / CROPS_JSON).read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"object appearance model format {doc.get('format_version')!r} in {directory} is "
                f"not the supported format {FORMAT_VERSION}; refit it (vad camera learn)"
            )
        with np.load(directory / _CROPS_NPZ, allow_pickle=False) as data:
            memory = data["memory"]
        return cls(
            AppearanceNormalityConfig.model_validate(doc["config"]),
            doc["encoder"],
            (int(doc["frame_size"][0]), int(doc["frame_size"][1])),
            memory,
            float(doc["reference"]),
            TailCalibrator.from_dict(doc["calibration"]),
            doc.get("metadata", {}),
        )

    def summary(self) -> str:
        return (
            f"{len(self.memory):,} normal object crops from "
            f"{self.metadata.get('frames_seen', '?')} frames"
        )


# ------------------------------------------------------------------------------------- fitting


def _held_out_ratios(clips: Sequence[ClipCrops], folds: int, limit: int) -> list[np.ndarray]:
    """Each clip's crop distances, each contiguous fold of the training frames against the
    (subsampled) crops of the other folds."""
    starts = np.cumsum([0] + [c.frames for c in clips])
    fold = contiguous_folds(int(starts[-1]), folds)
    crop_fold = [fold[start + c.keys[c.owner]] for start, c in zip(starts, clips, strict=False)]
    every = np.concatenate([c.embeddings for c in clips])
    every_fold = np.concatenate(crop_fold)
    held = [np.zeros(len(c.owner)) for c in clips]
    for g in range(folds):
        memory = _subsample(every[every_fold != g], limit)
        for c, clip in enumerate(clips):
            inside = crop_fold[c] == g
            held[c][inside] = nearest_distances(memory, clip.embeddings[inside])
    return held


def fit_object_appearance(
    clips: Sequence[ClipCrops],
    encoder: str,
    frame_size: tuple[int, int],
    config: AppearanceNormalityConfig | None = None,
) -> ObjectAppearanceModel:
    """Fit on the embedded objects of normal footage (one `ClipCrops` per clip): held-out crop
    distances set the reference distance, the held-out clips' smoothed frame novelty the
    calibrator."""
    config = config or AppearanceNormalityConfig(regions="objects")
    clips = [c for c in clips if c.frames]
    if not clips or sum(len(c.owner) for c in clips) < config.folds:
        raise ValueError(
            "the object appearance model needs at least "
            f"{config.folds} objects in its training footage"
        )
    held = _held_out_ratios(clips, config.folds, config.crop_memory)
    reference = max(float(np.quantile(np.concatenate(held), config.reference_quantile)), 1e-6)
    novelty = [
        smooth_scores(frame_novelty(c, h / reference)[0], config.smoothing_frames, causal=True)
        for c, h in zip(clips, held, strict=True)
    ]
    calibrator = TailCalibrator.fit(
        np.concatenate(novelty), config.tail_quantile, config.reference_quantile
    )
    every = np.concatenate([c.embeddings for c in clips])
    metadata = {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "frames_seen": int(sum(c.frames for c in clips)),
        "key_frames": int(sum(len(c.keys) for c in clips)),
        "crops": int(len(every)),
    }
    memory = _subsample(every, config.crop_memory)
    return ObjectAppearanceModel(
        config, encoder, frame_size, memory, reference, calibrator, metadata
    )
