"""Detections for people: pixel boxes in JSON records, boxes drawn on a copy of the frame."""

from __future__ import annotations

import numpy as np

from vad.encoders.detectors import Detection
from vad.encoders.detectors.annotate import draw, frame_record, label_colour

CART = Detection("vehicle", 0.51234, (0.25, 0.5, 0.75, 1.0), "Car")


def test_record_has_shared_labels_and_pixel_boxes() -> None:
    assert frame_record(7, [CART], 360, 240) == {
        "frame": 7,
        "detections": [{"label": "vehicle", "score": 0.5123, "box": [90.0, 120.0, 270.0, 240.0]}],
    }


def test_draw_leaves_the_frame_alone_and_colours_are_stable() -> None:
    frame = np.zeros((240, 360, 3), np.uint8)
    drawn = draw(frame, [CART])
    assert not frame.any() and drawn.shape == frame.shape and drawn[120:, 90].any()
    assert label_colour("person") == label_colour("person") != label_colour("vehicle")
