"""SSD (MediaPipe's SSD-MobileNetV2, Open Images v4): stretched RGB in, anchor offsets out.

The graph ends before post-processing (raw box encodings + class logits), as MediaPipe runs it;
this file does the rest in numpy with the parameters the export wrote into the manifest:
the SSD anchor generator (MediaPipe's `SsdAnchorsCalculator`), box decoding against the anchors
(`TensorsToDetectionsCalculator`: centre offsets / scale, exp of size offsets), a sigmoid on the
logits, background ignored, NMS per shared label (in `base`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vad.encoders.detectors.base import Detection, Detector
from vad.encoders.runtime import ModelCorrupt


@dataclass(frozen=True, slots=True)
class AnchorSpec:
    """MediaPipe's SsdAnchorsCalculatorOptions (the fields this family uses)."""

    input_size: int
    min_scale: float
    max_scale: float
    strides: tuple[int, ...]
    aspect_ratios: tuple[float, ...]
    offset: float = 0.5
    reduce_boxes_in_lowest_layer: bool = True
    interpolated_scale_aspect_ratio: float = 1.0

    @classmethod
    def from_manifest(cls, spec: dict) -> AnchorSpec:
        return cls(
            input_size=int(spec["input_size"]),
            min_scale=float(spec["min_scale"]),
            max_scale=float(spec["max_scale"]),
            strides=tuple(int(s) for s in spec["strides"]),
            aspect_ratios=tuple(float(a) for a in spec["aspect_ratios"]),
            offset=float(spec.get("offset", 0.5)),
            reduce_boxes_in_lowest_layer=bool(spec.get("reduce_boxes_in_lowest_layer", True)),
            interpolated_scale_aspect_ratio=float(spec.get("interpolated_scale_aspect_ratio", 1.0)),
        )

    def scale(self, layer: int) -> float:
        if len(self.strides) == 1:
            return (self.min_scale + self.max_scale) / 2
        return self.min_scale + (self.max_scale - self.min_scale) * layer / (len(self.strides) - 1)

    def layer_shapes(self, layer: int) -> list[tuple[float, float]]:
        """(scale, aspect ratio) of the anchors in each cell of `layer`."""
        scale = self.scale(layer)
        if layer == 0 and self.reduce_boxes_in_lowest_layer:
            return [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
        shapes = [(scale, ratio) for ratio in self.aspect_ratios]
        if self.interpolated_scale_aspect_ratio > 0:
            last = layer == len(self.strides) - 1
            following = 1.0 if last else self.scale(layer + 1)
            shapes.append((math.sqrt(scale * following), self.interpolated_scale_aspect_ratio))
        return shapes


def generate_anchors(spec: AnchorSpec) -> np.ndarray:
    """(anchors, 4) float32 rows (y_centre, x_centre, height, width) in input fractions, in the
    order the graph emits its predictions: layer, row, column, anchor of the cell.

    Layers with equal strides share cells in MediaPipe; this family's strides all differ."""
    rows = []
    for layer, stride in enumerate(spec.strides):
        shapes = spec.layer_shapes(layer)
        sizes = [(s / math.sqrt(r), s * math.sqrt(r)) for s, r in shapes]  # (height, width)
        cells = math.ceil(spec.input_size / stride)
        for y in range(cells):
            for x in range(cells):
                yc, xc = (y + spec.offset) / cells, (x + spec.offset) / cells
                rows.extend((yc, xc, h, w) for h, w in sizes)
    return np.array(rows, np.float32)


@dataclass(frozen=True, slots=True)
class BoxCoder:
    """How raw box encodings relate to the anchors (TensorFlow's faster-RCNN box coder)."""

    y_scale: float = 10.0
    x_scale: float = 10.0
    h_scale: float = 5.0
    w_scale: float = 5.0

    def decode(self, raw: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        """(anchors, 4) raw (y, x, h, w) offsets -> (anchors, 4) boxes (x1, y1, x2, y2)."""
        ay, ax, ah, aw = anchors.T
        yc = raw[:, 0] / self.y_scale * ah + ay
        xc = raw[:, 1] / self.x_scale * aw + ax
        h = np.exp(raw[:, 2] / self.h_scale) * ah
        w = np.exp(raw[:, 3] / self.w_scale) * aw
        return np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], 1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class SsdDetector(Detector):
    """An SSD export with raw outputs: boxes (N, anchors, 4) and class logits (N, anchors, C)."""

    family = "ssd"
    default_taxonomy = "open-images"

    def __init__(self, model_dir, manifest: dict, *args, **kwargs):
        super().__init__(model_dir, manifest, *args, **kwargs)
        self.anchors = generate_anchors(AnchorSpec.from_manifest(manifest["anchors"]))
        self.coder = BoxCoder(**manifest.get("box_coder", {}))
        # background and label-map ids no class was ever trained for: never reported
        self.void = [manifest.get("background_class", 0), *manifest.get("unused_classes", [])]
        self.mean = np.float32(manifest.get("mean", 127.5))
        self.std = np.float32(manifest.get("std", 127.5))
        graph_outputs = self._session.get_outputs()
        names = [o.name for o in graph_outputs]
        self._boxes_at = names.index(manifest["outputs"]["boxes"])
        self._scores_at = names.index(manifest["outputs"]["scores"])
        predicted = graph_outputs[self._boxes_at].shape[1]
        if predicted != len(self.anchors):
            raise ModelCorrupt(
                f"model {self.name!r}: the graph predicts {predicted} boxes but the manifest's "
                f"anchor parameters give {len(self.anchors)}; re-export it with "
                f"`vad models export {self.name}`"
            )

    def preprocess(self, images: list[np.ndarray]) -> tuple[np.ndarray, list[None]]:
        """BGR frames -> float32 (N, size, size, 3) RGB, the whole frame stretched (the model
        was trained on stretched images), scaled to [-1, 1]. Boxes come out in frame fractions,
        so nothing is needed to map them back."""
        size = self.image_size
        batch = np.empty((len(images), size, size, 3), np.float32)
        for i, image in enumerate(images):
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            resized = cv2.resize(image[..., :3], (size, size), interpolation=cv2.INTER_LINEAR)
            # (RGB - mean) / std in float32, written into the batch (speed round 3: no
            # temporaries; the same two float32 operations on the same values)
            np.subtract(resized[..., ::-1], self.mean, out=batch[i], dtype=np.float32)
            np.divide(batch[i], self.std, out=batch[i])
        return batch, [None] * len(images)

    def outputs(self, pixels: np.ndarray) -> list[np.ndarray]:
        """[raw boxes (N, anchors, 4), class logits (N, anchors, classes)] for a batch."""
        out = self._session.run(None, {self._input: pixels})
        return [out[self._boxes_at], out[self._scores_at]]

    def decode(self, outputs: list[np.ndarray], frame: None = None) -> list[Detection]:
        raw_boxes, logits = outputs
        scores = sigmoid(logits.astype(np.float32))
        scores[:, self.void] = 0.0
        scores[:, self.ignored] = 0.0
        classes = scores.argmax(1)
        best = scores[np.arange(len(scores)), classes]
        mask = best > self.confidence
        boxes = self.coder.decode(raw_boxes[mask], self.anchors[mask])
        return self._detections(boxes.astype(np.float32), best[mask], classes[mask])
