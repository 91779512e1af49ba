"""The detector interface: one small abstract base, one plugin file per model family.

A detector turns BGR frames into `Detection`s (class from the shared vocabulary, confidence, box
normalised to the frame). What differs between families - how a frame becomes the input tensor
and how the raw outputs become boxes - is the two methods a plugin implements; the ONNX session,
batching, class mapping and NMS are shared here. `vad.encoders.detectors.open_detector` picks the
plugin from the manifest's "family" (like Frigate's detector plugins).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vad.encoders.runtime import open_session
from vad.object_vocabulary import VOCABULARY, shared_label


@dataclass(frozen=True, slots=True)
class Detection:
    """One object: its class (shared vocabulary), confidence and box normalised to the frame
    (x1, y1, x2, y2); `source_label` is the detector's own class name ("Car", "truck")."""

    class_name: str
    confidence: float
    box: tuple[float, float, float, float]
    source_label: str = ""

    def as_dict(self) -> dict:
        return {"class": self.class_name, "confidence": self.confidence, "box": list(self.box)}


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


def nms_per_group(
    boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray, iou: float, limit: int
) -> list[int]:
    """NMS within each group only (a person never suppresses a bicycle): boxes are shifted
    apart by group so one greedy pass does it. Boxes in any unit below 4096."""
    return nms(boxes + groups[:, None].astype(np.float32) * 4096.0, scores, iou)[:limit]


class Detector(ABC):
    """Objects per frame from an exported detector (one ONNX session)."""

    family: ClassVar[str]
    default_taxonomy: ClassVar[str] = "coco"

    def __init__(
        self,
        model_dir: Path,
        manifest: dict,
        providers: list[str] | None = None,
        threads: int = 0,
        batch_size: int = 16,
        confidence: float = 0.3,
        iou: float = 0.45,
        max_detections: int = 100,
        ignore: tuple[str, ...] = (),
    ):
        self.model_dir = Path(model_dir)
        self.manifest = manifest
        self.name: str = manifest["name"]
        self.image_size = int(manifest["image_size"])
        self.classes: list[str] = list(manifest["classes"])
        taxonomy = manifest.get("taxonomy", self.default_taxonomy)
        self.labels: list[str] = [shared_label(c, taxonomy) for c in self.classes]
        # index of each class's shared label: NMS groups by what the user sees, so an object
        # called both "Car" and "Vehicle" by the model is reported once
        self._label_ids = np.array([VOCABULARY.index(label) for label in self.labels])
        # classes whose scores are zeroed before the best class of a box is picked
        self.ignored = np.array([label in ignore for label in self.labels])
        self.batch_size, self.confidence, self.iou = batch_size, confidence, iou
        self.max_detections = max_detections
        self._session = open_session(
            self.model_dir / manifest["files"]["model"], self.name, providers, threads
        )
        self._input = self._session.get_inputs()[0].name
        self.providers: list[str] = self._session.get_providers()

    @classmethod
    def load(cls, model_dir: Path, providers: list[str] | None = None, **options) -> Detector:
        """The exported detector in `model_dir`, whatever its family (see `open_detector`)."""
        from vad.encoders.detectors import open_detector

        return open_detector(Path(model_dir), providers, **options)

    @classmethod
    def installed(cls, model_dir: Path, config) -> Detector | None:
        """The configured detector with the configured options, or None if it is not exported.

        A folder that exists but cannot be opened raises `ModelError` (say it, don't hide it)."""
        from vad.encoders.detectors import installed_detector

        return installed_detector(Path(model_dir), config)

    @abstractmethod
    def preprocess(self, images: list[np.ndarray]) -> tuple[np.ndarray, list[Any]]:
        """BGR frames -> the input batch, plus per frame what decoding needs to map boxes back."""

    @abstractmethod
    def decode(self, outputs: list[np.ndarray], frame: Any) -> list[Detection]:
        """One image's raw outputs (batch axis removed) -> its detections, best first."""

    def outputs(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Every output of the graph for an already preprocessed batch."""
        return self._session.run(None, {self._input: pixels})

    def detect(self, images: list[np.ndarray]) -> list[list[Detection]]:
        """BGR frames -> the detections of each frame, best first."""
        out: list[list[Detection]] = []
        for start in range(0, len(images), self.batch_size):
            pixels, frames = self.preprocess(images[start : start + self.batch_size])
            batch = self.outputs(pixels)
            for i, frame in enumerate(frames):
                out.append(self.decode([o[i] for o in batch], frame))
        return out

    def _detections(
        self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray
    ) -> list[Detection]:
        """Boxes (normalised x1, y1, x2, y2), scores and class ids of the candidates over the
        confidence threshold -> NMS per shared label -> detections, clipped to the frame."""
        if not len(scores):
            return []
        keep = nms_per_group(boxes, scores, self._label_ids[classes], self.iou, self.max_detections)
        out = []
        for i in keep:
            x1, y1, x2, y2 = (float(v) for v in np.clip(boxes[i], 0.0, 1.0))
            c = int(classes[i])
            out.append(
                Detection(self.labels[c], float(scores[i]), (x1, y1, x2, y2), self.classes[c])
            )
        return out
