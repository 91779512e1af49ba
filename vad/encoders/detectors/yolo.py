"""YOLO (ultralytics export, no NMS inside): letterbox in, centre boxes + class scores out.

The post-processing is the arithmetic ultralytics applies: confidence filter on the best class,
centre boxes to corners, undo the letterbox, per-class NMS (shared in `base`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vad.encoders.detectors.base import Detection, Detector

PAD_VALUE = 114


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where a frame landed in the square input: scale and padding, to map boxes back."""

    scale: float
    pad_x: float
    pad_y: float
    width: int
    height: int


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio, pad to size x size with grey 114 (ultralytics' choice)."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    nw, nh = round(w * scale), round(h * scale)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (size - nw) / 2, (size - nh) / 2
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[top : top + nh, left : left + nw] = resized[..., :3]
    return canvas, Letterbox(scale, left, top, w, h)


def preprocess(images: list[np.ndarray], size: int) -> tuple[np.ndarray, list[Letterbox]]:
    """BGR frames -> float32 (N, 3, size, size) RGB in [0, 1], plus how to undo the letterbox."""
    batch = np.empty((len(images), 3, size, size), np.float32)
    boxes = []
    for i, image in enumerate(images):
        canvas, lb = letterbox(image, size)
        batch[i] = canvas[..., ::-1].transpose(2, 0, 1) / 255.0
        boxes.append(lb)
    return batch, boxes


def candidates(
    raw: np.ndarray, lb: Letterbox, conf: float, ignored: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's raw output (4 + classes, anchors) -> boxes normalised to the frame
    (x1, y1, x2, y2), scores and class ids of the anchors whose best class beats `conf`
    (classes flagged in `ignored` never win)."""
    preds = raw.T
    scores = preds[:, 4:]
    if ignored is not None and ignored.any():
        scores = np.where(ignored[None, :], 0.0, scores)
    cls = scores.argmax(1)
    best = scores[np.arange(len(scores)), cls]
    mask = best > conf
    cx, cy, w, h = preds[mask, :4].T
    x1 = (cx - w / 2 - lb.pad_x) / lb.scale / lb.width
    y1 = (cy - h / 2 - lb.pad_y) / lb.scale / lb.height
    x2 = (cx + w / 2 - lb.pad_x) / lb.scale / lb.width
    y2 = (cy + h / 2 - lb.pad_y) / lb.scale / lb.height
    return np.stack([x1, y1, x2, y2], 1).astype(np.float32), best[mask], cls[mask]


class YoloDetector(Detector):
    """An ultralytics YOLO export (COCO labels)."""

    family = "yolo"
    default_taxonomy = "coco"

    def preprocess(self, images: list[np.ndarray]) -> tuple[np.ndarray, list[Letterbox]]:
        return preprocess(images, self.image_size)

    def raw(self, pixels: np.ndarray) -> np.ndarray:
        """The graph's output for an already preprocessed batch: (N, 4 + classes, anchors)."""
        return self.outputs(pixels)[0]

    def decode(self, outputs: list[np.ndarray], frame: Letterbox) -> list[Detection]:
        boxes, scores, classes = candidates(outputs[0], frame, self.confidence, self.ignored)
        return self._detections(boxes, scores, classes)
