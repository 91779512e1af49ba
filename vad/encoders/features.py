"""Detector output as a fixed-length feature vector per frame, for scene-normality models.

What a walkway camera's normal looks like in objects: how many people, no cars, people of a
certain size in certain places. Per tracked class: count, mean box area and mean centre (x, y);
plus the total number of objects. Positions and sizes are in frame fractions, so the vector does
not depend on resolution. A normality model fits these like any other per-frame feature family
(`vad/scoring/normality` owns that choice; this module only defines the vector).
"""

from __future__ import annotations

import numpy as np

from vad.encoders.detectors import Detection
from vad.object_vocabulary import BICYCLE, PERSON, SKATEBOARD, VEHICLE

# words of the shared vocabulary (whatever the detector's own labels), so features from two
# detectors line up
TRACKED_CLASSES = (PERSON, BICYCLE, VEHICLE, SKATEBOARD)
_PER_CLASS = ("count", "mean_area", "mean_cx", "mean_cy")


def feature_names(classes: tuple[str, ...] = TRACKED_CLASSES) -> list[str]:
    return [f"{c}.{f}" for c in classes for f in _PER_CLASS] + ["objects"]


def detection_features(
    detections: list[Detection], classes: tuple[str, ...] = TRACKED_CLASSES
) -> np.ndarray:
    """float32 vector of length 4 x len(classes) + 1 (see `feature_names`)."""
    out = np.zeros(len(classes) * len(_PER_CLASS) + 1, np.float32)
    for k, name in enumerate(classes):
        boxes = np.array([d.box for d in detections if d.class_name == name], np.float32)
        if not len(boxes):
            continue
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        base = k * len(_PER_CLASS)
        out[base : base + 4] = (
            len(boxes),
            area.mean(),
            ((boxes[:, 0] + boxes[:, 2]) / 2).mean(),
            ((boxes[:, 1] + boxes[:, 3]) / 2).mean(),
        )
    out[-1] = len(detections)
    return out


def window_features(per_frame: list[list[Detection]]) -> np.ndarray:
    """(frames, features) for a window's detections, ready to stack with other families."""
    width = len(feature_names())
    if not per_frame:
        return np.zeros((0, width), np.float32)
    return np.stack([detection_features(d) for d in per_frame])
