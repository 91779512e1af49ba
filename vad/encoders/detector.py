"""YOLO detector over one ONNX session: letterbox, batched inference, per-class NMS in numpy.

The graph is ultralytics' own export (no NMS inside), so the post-processing here is the same
arithmetic ultralytics applies: centre boxes + class scores, confidence filter, NMS, unletterbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vad.encoders.config import EncoderConfig
from vad.encoders.registry import export_dir
from vad.encoders.runtime import ModelCorrupt, open_session, read_manifest

PAD_VALUE = 114


@dataclass(frozen=True, slots=True)
class Detection:
    """One object: its class, confidence and box normalised to the frame (x1, y1, x2, y2)."""

    class_name: str
    confidence: float
    box: tuple[float, float, float, float]

    def as_dict(self) -> dict:
        return {"class": self.class_name, "confidence": self.confidence, "box": list(self.box)}


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


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression; indices kept, best first."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= iou]
    return keep


def decode(
    raw: np.ndarray, lb: Letterbox, classes: list[str], conf: float, iou: float, limit: int
) -> list[Detection]:
    """One image's raw output (4 + classes, anchors) -> detections in normalised frame coords."""
    preds = raw.T
    scores = preds[:, 4:]
    cls = scores.argmax(1)
    best = scores[np.arange(len(scores)), cls]
    mask = best > conf
    if not mask.any():
        return []
    cx, cy, w, h = preds[mask, :4].T
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    best, cls = best[mask], cls[mask]
    # per-class NMS: offset boxes by class so different classes never suppress each other
    keep = nms(boxes + cls[:, None] * 4096.0, best, iou)[:limit]
    out = []
    for i in keep:
        x1, y1, x2, y2 = boxes[i]
        box = (
            float(np.clip((x1 - lb.pad_x) / lb.scale / lb.width, 0, 1)),
            float(np.clip((y1 - lb.pad_y) / lb.scale / lb.height, 0, 1)),
            float(np.clip((x2 - lb.pad_x) / lb.scale / lb.width, 0, 1)),
            float(np.clip((y2 - lb.pad_y) / lb.scale / lb.height, 0, 1)),
        )
        out.append(Detection(classes[int(cls[i])], float(best[i]), box))
    return out


class Detector:
    """Objects per frame from an exported YOLO model."""

    def __init__(
        self,
        model_dir: Path,
        manifest: dict,
        providers: list[str] | None = None,
        threads: int = 0,
        batch_size: int = 16,
        confidence: float = 0.25,
        iou: float = 0.45,
        max_detections: int = 100,
    ):
        self.model_dir = model_dir
        self.manifest = manifest
        self.name: str = manifest["name"]
        self.image_size = int(manifest["image_size"])
        self.classes: list[str] = list(manifest["classes"])
        self.batch_size, self.confidence, self.iou = batch_size, confidence, iou
        self.max_detections = max_detections
        self._session = open_session(
            model_dir / manifest["files"]["model"], self.name, providers, threads
        )
        self._input = self._session.get_inputs()[0].name
        self.providers: list[str] = self._session.get_providers()

    @classmethod
    def load(cls, model_dir: Path, providers: list[str] | None = None, **options) -> Detector:
        model_dir = Path(model_dir)
        manifest = read_manifest(model_dir)
        if manifest.get("kind") != "detector":
            raise ModelCorrupt(f"{model_dir} holds a {manifest.get('kind')!r} model, not detector")
        return cls(model_dir, manifest, providers, **options)

    @classmethod
    def installed(cls, model_dir: Path, config: EncoderConfig) -> Detector | None:
        """The configured detector with the configured options, or None if it is not exported.

        A folder that exists but cannot be opened raises `ModelError` (say it, don't hide it)."""
        folder = export_dir(Path(model_dir), config.detector)
        if not folder.exists():
            return None
        return cls.load(
            folder,
            list(config.providers) or None,
            threads=config.threads,
            batch_size=config.batch_size,
            confidence=config.detector_confidence,
            iou=config.detector_iou,
        )

    def raw(self, pixels: np.ndarray) -> np.ndarray:
        """The graph's output for an already preprocessed batch: (N, 4 + classes, anchors)."""
        return self._session.run(None, {self._input: pixels})[0]

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """BGR frames -> the detections of each frame, best first."""
        out: list[list[Detection]] = []
        for start in range(0, len(images), self.batch_size):
            pixels, boxes = preprocess(images[start : start + self.batch_size], self.image_size)
            for raw, lb in zip(self.raw(pixels), boxes, strict=True):
                out.append(
                    decode(raw, lb, self.classes, self.confidence, self.iou, self.max_detections)
                )
        return out
