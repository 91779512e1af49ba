"""NanoDet (GFL head, COCO-80): stretched RGB in, per-level class scores + box distributions out.

The TF.js conversion ends at the heads: for each stride (8, 16, 32) a (cells, 80) score map,
already through a sigmoid, and a (cells, 4 * bins) map of distance logits. Decoding in numpy,
as NanoDet's generalised-focal-loss head does it: per side (left, top, right, bottom) a softmax
over the bins, its expectation (the "integral") times the stride is the distance from the cell
centre ((col + 0.5) * stride, (row + 0.5) * stride) to that side; NMS per shared label in `base`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vad.encoders.detectors.base import Detection, Detector


@dataclass(frozen=True, slots=True)
class Level:
    """One output stride: its cell centres (cells, 2) in input pixels and its bin count."""

    stride: int
    centres: np.ndarray
    bins: int


def cell_centres(size: int, stride: int) -> np.ndarray:
    """(cells, 2) x, y centres of a stride's cells in row-major order (how the heads flatten)."""
    cells = size // stride
    ys, xs = np.mgrid[0:cells, 0:cells]
    return (np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32) + 0.5) * stride


def distances(logits: np.ndarray, bins: int) -> np.ndarray:
    """(cells, 4 * bins) logits -> (cells, 4) expected distances in strides (softmax integral)."""
    x = logits.reshape(len(logits), 4, bins).astype(np.float32)
    x = np.exp(x - x.max(2, keepdims=True))
    return (x / x.sum(2, keepdims=True)) @ np.arange(bins, dtype=np.float32)


def level_boxes(logits: np.ndarray, level: Level, size: int) -> np.ndarray:
    """(cells, 4) boxes x1, y1, x2, y2 as fractions of the input from one level's logits."""
    d = distances(logits, level.bins) * level.stride
    cx, cy = level.centres[:, 0], level.centres[:, 1]
    return np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], 1) / size


class NanoDetDetector(Detector):
    """A NanoDet export (`vad/encoders/export_nanodet.py`): COCO labels, three levels."""

    family = "nanodet"
    default_taxonomy = "coco"

    def __init__(self, model_dir, manifest: dict, *args, **kwargs):
        super().__init__(model_dir, manifest, *args, **kwargs)
        self.mean = np.array(manifest["mean"], np.float32)
        self.std = np.array(manifest["std"], np.float32)
        names = [o.name for o in self._session.get_outputs()]
        size = self.image_size
        self.levels = [
            Level(int(lv["stride"]), cell_centres(size, int(lv["stride"])), int(lv["bins"]))
            for lv in manifest["levels"]
        ]
        # graph output index of each level's (scores, box logits)
        self._order = [(names.index(lv["scores"]), names.index(lv["boxes"]))
                       for lv in manifest["levels"]]  # fmt: skip

    def preprocess(self, images: list[np.ndarray]) -> tuple[np.ndarray, list[None]]:
        """BGR frames -> float32 (N, 3, size, size), the whole frame stretched, BGR, normalised
        with NanoDet's training mean and std (what its pipeline feeds it; x / 255 finds a
        quarter of Ped2's bicycles, this all of them). Boxes come out in frame fractions."""
        size = self.image_size
        batch = np.empty((len(images), 3, size, size), np.float32)
        for i, image in enumerate(images):
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            resized = cv2.resize(image[..., :3], (size, size), interpolation=cv2.INTER_LINEAR)
            batch[i] = ((resized - self.mean) / self.std).transpose(2, 0, 1)
        return batch, [None] * len(images)

    def outputs(self, pixels: np.ndarray) -> list[np.ndarray]:
        """[scores, box logits] of each level in turn (strides ascending), for a batch. The
        graph's batch is fixed at 1 (its reshapes are constants), so images run one by one."""
        runs = [self._session.run(None, {self._input: image[None]}) for image in pixels]
        return [np.concatenate([out[i] for out in runs]) for pair in self._order for i in pair]

    def decode(self, outputs: list[np.ndarray], frame: None = None) -> list[Detection]:
        boxes, scores, classes = [], [], []
        for level, score_map, logits in zip(self.levels, outputs[::2], outputs[1::2], strict=True):
            score_map = np.where(self.ignored[None, :], 0.0, score_map.astype(np.float32))
            best_class = score_map.argmax(1)
            best = score_map[np.arange(len(score_map)), best_class]
            mask = best > self.confidence
            if mask.any():
                level_at = Level(level.stride, level.centres[mask], level.bins)
                boxes.append(level_boxes(logits[mask], level_at, self.image_size))
                scores.append(best[mask])
                classes.append(best_class[mask])
        if not scores:
            return []
        return self._detections(
            np.concatenate(boxes).astype(np.float32), np.concatenate(scores),
            np.concatenate(classes),
        )  # fmt: skip
