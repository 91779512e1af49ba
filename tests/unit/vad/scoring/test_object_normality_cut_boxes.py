"""Boxes cut by the frame's border (edge round, docs/benchmarks-normality.md): with `cut_boxes`
'off' the object model is main's exactly; 'uncut-axes' compares a cut box only on the
descriptors its cut does not bias; 'class-only' gives a cut box no geometry novelty. A box's
class and the frame's count count in every mode."""

from __future__ import annotations

import numpy as np
import pytest

from vad.encoders.detectors import Detection
from vad.scoring.object_normality import (
    ClassMemory,
    ObjectNormalityConfig,
    _raw_novelty,
    box_descriptors,
    fit_object_model,
    geometry_used,
)

UNCUT = Detection("person", 0.9, (0.40, 0.40, 0.44, 0.52))  # cx 0.42, cy 0.46
BOTTOM = Detection("person", 0.9, (0.40, 0.90, 0.44, 1.00))  # cut at the bottom
CORNER = Detection("person", 0.9, (0.00, 0.90, 0.04, 1.00))  # cut left and bottom
LEFT = Detection("person", 0.9, (0.00, 0.40, 0.03, 0.52))  # cut at the left


def config(mode: str) -> ObjectNormalityConfig:
    return ObjectNormalityConfig(cut_boxes=mode)


def memory(reference_count: float = 4.0) -> dict[str, ClassMemory]:
    """Training people in the middle of the frame, all 0.04 x 0.12, scale 0.1 on every axis."""
    boxes = box_descriptors([Detection("person", 0.9, (x, 0.4, x + 0.04, 0.52)) for x in (0.4,)])
    return {"person": ClassMemory(boxes, np.full(4, 0.1), 1.0, reference_count)}


def walkway(seed: int) -> list[list[list[Detection]]]:
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(3):
        frames = []
        for _ in range(120):
            found = []
            for _ in range(rng.integers(1, 5)):
                x, y = rng.uniform(0.05, 0.9), rng.uniform(0.3, 0.98)
                found.append(Detection("person", 0.8, (x, y - 0.12, x + 0.04, min(y, 1.0))))
            frames.append(found)
        clips.append(frames)
    return clips


def test_off_uses_every_descriptor_of_every_box():
    boxes = box_descriptors([UNCUT, BOTTOM, CORNER])
    assert geometry_used(boxes, config("off")) is None


def test_uncut_axes_keeps_what_each_cut_does_not_bias():
    used = geometry_used(box_descriptors([UNCUT, BOTTOM, LEFT, CORNER]), config("uncut-axes"))
    assert used.tolist() == [
        [True, True, True, True],
        [True, False, True, False],  # cut at the bottom: cx and w
        [False, True, False, True],  # cut at the left: cy and h
        [False, False, False, False],  # cut on both axes: no geometry
    ]


def test_class_only_drops_every_descriptor_of_a_cut_box():
    used = geometry_used(box_descriptors([UNCUT, BOTTOM, LEFT]), config("class-only"))
    assert used.tolist() == [[True] * 4, [False] * 4, [False] * 4]


def test_a_box_cut_at_the_bottom_is_compared_on_cx_and_w_only():
    classes = memory()
    off, _ = _raw_novelty([BOTTOM], classes, config("off"))
    e1, _ = _raw_novelty([BOTTOM], classes, config("uncut-axes"))
    assert off == pytest.approx(np.hypot(4.9, 0.2))  # cy 0.46 -> 0.95, h 0.12 -> 0.10, in std
    assert e1 == pytest.approx(0.25)  # count 1 / 4: same cx and w as the training box
    shifted = Detection("person", 0.9, (0.60, 0.90, 0.64, 1.00))  # cx 0.2 away: 2 std
    assert _raw_novelty([shifted], classes, config("uncut-axes"))[0] == pytest.approx(2.0)


def test_a_box_cut_on_both_axes_keeps_its_class_and_count_only():
    classes = memory(reference_count=1.0)
    for mode in ("uncut-axes", "class-only"):
        assert _raw_novelty([CORNER], classes, config(mode))[0] == pytest.approx(1.0)
        assert _raw_novelty([CORNER, CORNER], classes, config(mode))[0] == pytest.approx(2.0)
    assert _raw_novelty([CORNER], classes, config("off"))[0] > 4


def test_an_uncut_box_scores_as_on_main():
    classes = memory()
    far = Detection("person", 0.9, (0.70, 0.20, 0.74, 0.32))
    for found in ([UNCUT], [far], [far, UNCUT]):
        expected = _raw_novelty(found, classes, config("off"))
        for mode in ("uncut-axes", "class-only"):
            assert _raw_novelty(found, classes, config(mode)) == expected


def test_off_fits_and_scores_as_main_bit_for_bit():
    """'off' is the default, and the distance with no mask is main's expression unchanged."""
    assert ObjectNormalityConfig().cut_boxes == "off"
    boxes = box_descriptors([UNCUT, BOTTOM, CORNER])
    m = memory()["person"]
    diff = (boxes[:, None, :] - m.boxes[None, :, :]) / m.scale
    assert np.array_equal(m.distances(boxes), np.sqrt((diff**2).sum(axis=2)).min(axis=1))
    model = fit_object_model(walkway(0), "test", ObjectNormalityConfig())
    again = fit_object_model(walkway(0), "test", config("off"))
    frames = walkway(1)[0]
    assert [v.score for v in model.score(frames)] == [v.score for v in again.score(frames)]


def test_cut_boxes_lower_reference_distances_and_scores_of_bottom_boxes():
    """Fitting measures held-out distances as scoring does: with cut boxes compared on fewer
    descriptors, a person at the bottom edge where training showed people nearby scores no
    higher than with every descriptor."""
    clips = walkway(0)
    bottom = [[Detection("person", 0.8, (0.5, 0.9, 0.54, 1.0))]]
    scores = {
        mode: fit_object_model(clips, "test", config(mode)).score(bottom)[0].score
        for mode in ("off", "uncut-axes", "class-only")
    }
    assert scores["class-only"] <= scores["uncut-axes"] <= scores["off"] + 1e-9


def test_the_setting_round_trips_with_a_saved_model(tmp_path):
    from vad.scoring.object_normality import ObjectNormalityModel

    model = fit_object_model(walkway(0), "test", config("uncut-axes"))
    loaded = ObjectNormalityModel.load(model.save(tmp_path).parent)
    assert loaded.config.cut_boxes == "uncut-axes"
    frames = walkway(2)[0]
    assert [v.score for v in loaded.score(frames)] == [v.score for v in model.score(frames)]
