"""Run the detector on key frames only and let the frames between them reuse their detections.

The detector is most of stage 1's CPU (about 15-20 ms a 360x240 frame on one core, against about
the same for the pixel and velocity models together), and neighbouring frames at analysis rate are
near duplicates. A frame is a key frame, and is detected, when

* it is the first of the batch, or `every` frames have passed since the last key frame, or
* its view changed since the last key frame: the share of the view whose (small, blurred) grey
  level moved by more than `_LEVEL` is at least `change`.

Every other frame gets the last key frame's detections. The change is measured against the last
*key* frame, not the previous frame, so slow drift adds up until it re-detects, and something that
appears without moving (a car parked while the camera looked away, a bag set down) changes the
view and is detected at once; at worst, something that appears by slow creep is seen `every - 1`
frames late. `every = 1` detects every frame (the behaviour before key frames).

One function for every caller - the worker, `vad camera learn`'s recorder and `vad eval`'s
`Stage1` - so the object model is fitted on detections made exactly as it is scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from vad.encoders.detectors.base import Detection, Detector

_WIDTH = 64  # grey width the change is measured at: cheap, and blind to sensor noise
_LEVEL = 24  # grey levels (0-255) a pixel must move by to count as changed


def change_signature(image: np.ndarray) -> np.ndarray:
    """Small blurred grey copy of a BGR (or grey) frame, what `changed_share` compares."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = grey.shape[:2]
    small = cv2.resize(grey, (_WIDTH, max(1, round(h * _WIDTH / w))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (3, 3), 0).astype(np.int16)


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the view whose grey level moved by more than `_LEVEL` between two signatures."""
    return float((np.abs(a - b) > _LEVEL).mean())


def key_frames(images: Sequence[np.ndarray], every: int, change: float) -> list[int]:
    """For each frame, the index of the key frame whose detections it gets (itself if key)."""
    source: list[int] = []
    key, key_sig = -1, None
    for i, image in enumerate(images):
        if every <= 1:
            source.append(i)
            continue
        sig = change_signature(image)
        if key < 0 or i - key >= every or changed_share(key_sig, sig) >= change:
            key, key_sig = i, sig
        source.append(key)
    return source


def detect_key_frames(
    detector: Detector, images: Sequence[np.ndarray], every: int, change: float
) -> list[list[Detection]]:
    """The detections of each frame, the detector run on key frames only (batched)."""
    images = list(images)
    source = key_frames(images, every, change)
    keys = sorted(set(source))
    found = dict(zip(keys, detector.detect([images[k] for k in keys]), strict=True))
    return [found[k] for k in source]


class KeyFrameDetector:
    """A detector that runs on key frames only (`detect_key_frames`), for callers that take a
    detector: stage 2's scene descriptions must come from detections made as `vad camera learn`
    made the scene norms' (tracks built on every frame measured people at ~1.8x the speed of the
    same people on key frames, Ped2 training clips, so ordinary walkers read as unusual)."""

    def __init__(self, detector, every: int, change: float) -> None:
        self.detector = detector
        self.name = detector.name
        self.every, self.change = every, change

    @classmethod
    def like_learning(cls, detector, objects) -> KeyFrameDetector:
        """`objects`: the settings' object-model section (`settings.objects`)."""
        return cls(detector, objects.detect_every, objects.redetect_change)

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        return detect_key_frames(self.detector, frames, self.every, self.change)
