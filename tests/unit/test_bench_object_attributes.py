"""The research object-attribute functions of bench/object_attributes.py (issue 17)."""

from __future__ import annotations

import numpy as np

from bench.object_attributes import (
    ORIENTATION_BINS,
    AttributeConfig,
    knn_distance,
    moving_blobs,
    normal_per_pixel,
    object_boxes,
    velocity_attributes,
)
from vad.encoders.detectors import Detection


def _flow_with_mover(dx: float) -> np.ndarray:
    """A 40 x 60 flow field, still except a 10 x 8 block moving dx px to the right."""
    flow = np.zeros((40, 60, 2), np.float32)
    flow[10:20, 30:38, 0] = dx
    return flow


def test_a_moving_block_is_one_blob_and_still_pixels_are_none() -> None:
    flow = _flow_with_mover(2.0)
    speed = np.hypot(flow[..., 0], flow[..., 1])
    blobs = moving_blobs(speed, np.ones_like(speed), ratio=0.5, min_px=4)
    assert blobs == [(30, 10, 38, 20)]
    assert moving_blobs(np.zeros_like(speed), np.ones_like(speed), 0.5, 4) == []


def test_blobs_a_detection_covers_are_not_objects_twice() -> None:
    flow = _flow_with_mover(2.0)
    speed = np.hypot(flow[..., 0], flow[..., 1])
    person = Detection("person", 0.9, (30 / 60, 10 / 40, 38 / 60, 20 / 40))
    boxes = object_boxes([person], speed, np.ones_like(speed), AttributeConfig())
    assert len(boxes) == 1


def test_velocity_is_in_units_of_the_normal_speed_there_and_keeps_direction() -> None:
    flow = _flow_with_mover(2.0)
    box = [(30, 10, 38, 20)]
    slow_place = velocity_attributes(flow, box, np.full((40, 60), 1.0, np.float32))
    fast_place = velocity_attributes(flow, box, np.full((40, 60), 4.0, np.float32))
    assert slow_place.shape == (1, ORIENTATION_BINS)
    assert np.isclose(slow_place.sum(), 2.0) and np.isclose(fast_place.sum(), 0.5)
    assert np.count_nonzero(slow_place) == 1  # one direction: rightwards
    leftwards = velocity_attributes(_flow_with_mover(-2.0), box, np.ones((40, 60), np.float32))
    assert np.argmax(leftwards) != np.argmax(slow_place)


def test_shape_attributes_add_aspect_size_and_moving_fraction() -> None:
    out = velocity_attributes(
        _flow_with_mover(2.0), [(30, 10, 38, 20)], np.ones((40, 60)), 0.5, True
    )
    assert out.shape == (1, ORIENTATION_BINS + 3)
    assert np.isclose(out[0, -3], np.log(10 / 8)) and np.isclose(out[0, -1], 1.0)


def test_normal_speeds_per_cell_cover_every_pixel() -> None:
    px = normal_per_pixel(np.array([[1.0, 2.0], [3.0, 4.0]]), 8, (18, 17))
    assert px.shape == (18, 17)
    assert px[0, 0] == 1.0 and px[0, 16] == 2.0 and px[17, 0] == 3.0


def test_knn_distance_is_the_mean_over_the_k_nearest() -> None:
    bank = np.array([[0.0, 0.0], [3.0, 0.0], [10.0, 0.0]])
    q = np.array([[1.0, 0.0]])
    assert np.isclose(knn_distance(bank, q, 1)[0], 1.0)
    assert np.isclose(knn_distance(bank, q, 2)[0], 1.5)
    assert knn_distance(bank, np.zeros((0, 2)), 1).shape == (0,)
