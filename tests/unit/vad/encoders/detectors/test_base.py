"""Shared detector machinery: NMS, the family factory, labels in the shared vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vad.encoders.detectors import Detection, nms, open_detector
from vad.encoders.detectors.base import nms_per_group
from vad.encoders.runtime import ModelCorrupt


def test_nms_keeps_separate_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.45) == [0, 2]


def test_nms_per_group_never_suppresses_across_groups() -> None:
    boxes = np.array([[0, 0, 0.1, 0.2], [0, 0, 0.1, 0.2], [0.01, 0, 0.1, 0.2]], np.float32)
    keep = nms_per_group(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 1, 0]), 0.45, 10)
    assert keep == [0, 1]


def test_detection_keeps_its_source_label_out_of_the_stored_dict() -> None:
    d = Detection("vehicle", 0.5, (0.1, 0.2, 0.3, 0.4), "Car")
    assert d.as_dict() == {"class": "vehicle", "confidence": 0.5, "box": [0.1, 0.2, 0.3, 0.4]}


def test_unknown_family_or_kind_is_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "detector", "family": "rcnn"}))
    with pytest.raises(ModelCorrupt, match="unknown detector family 'rcnn'"):
        open_detector(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "clip"}))
    with pytest.raises(ModelCorrupt, match="not detector"):
        open_detector(tmp_path)
