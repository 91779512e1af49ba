"""Detector outputs as normality features: counts, sizes and positions per class."""

from __future__ import annotations

import numpy as np
import pytest

from vad.encoders.detectors import Detection
from vad.encoders.features import detection_features, feature_names, window_features


def test_counts_sizes_and_positions_per_class() -> None:
    frame = [
        Detection("person", 0.9, (0.0, 0.0, 0.2, 0.4)),
        Detection("person", 0.8, (0.6, 0.5, 0.8, 0.9)),
        Detection("vehicle", 0.7, (0.4, 0.4, 0.8, 0.6)),
        Detection("animal", 0.6, (0.1, 0.1, 0.2, 0.2)),  # untracked: only in the total
    ]
    names = feature_names()
    values = dict(zip(names, detection_features(frame), strict=True))
    assert values["person.count"] == 2 and values["vehicle.count"] == 1
    assert values["person.mean_area"] == pytest.approx((0.08 + 0.08) / 2)
    assert values["person.mean_cx"] == pytest.approx((0.1 + 0.7) / 2)
    assert values["vehicle.mean_cy"] == pytest.approx(0.5)
    assert values["bicycle.count"] == 0 and values["objects"] == 4


def test_empty_frames_and_windows() -> None:
    assert not detection_features([]).any()
    assert window_features([]).shape == (0, len(feature_names()))
    assert window_features([[], []]).shape == (2, len(feature_names()))


def test_from_the_tiny_detector_on_ped2(tiny_yolo, ped2_frames) -> None:
    from vad.encoders.detectors import Detector

    detector = Detector.load(tiny_yolo, confidence=0.0)
    feats = window_features(detector.detect(ped2_frames[:2]))
    assert feats.shape == (2, len(feature_names())) and np.isfinite(feats).all()
