"""Incremental updates (issue 20): "this was normal" learned without a refit. Synthetic footage
(tests.unit.vad.scoring.test_velocity): walkers in three rows; a walker four times faster than
its row is the false alarm an operator marks normal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.unit.vad.scoring.test_velocity import clip
from vad.encoders.detectors.base import Detection
from vad.scoring.appearance_normality import (
    AppearanceNormalityConfig,
    AppearanceNormalityModel,
    fit_appearance_model,
)
from vad.scoring.incremental import Recorded, extend_folder, extend_models
from vad.scoring.normality import (
    NormalityConfig,
    NormalityModel,
    TailCalibrator,
    fit_normality_model,
)
from vad.scoring.normality.memory import CellMemory, neighbour_vectors
from vad.scoring.object_normality import (
    ObjectNormalityConfig,
    ObjectNormalityModel,
    fit_object_model,
)
from vad.scoring.velocity import VELOCITY_JSON, VelocityModel, fit_velocity_model

SMALL = NormalityConfig(memory_per_cell=64, calibration_folds=2)


@pytest.fixture(scope="module")
def pixel() -> NormalityModel:
    return fit_normality_model([clip(seed, frames=40) for seed in range(3)], SMALL)


@pytest.fixture(scope="module")
def velocity() -> VelocityModel:
    return fit_velocity_model([clip(seed) for seed in range(6)])


def test_cell_memory_appends_new_vectors_and_drops_padding() -> None:
    rng = np.random.default_rng(0)
    scale = np.ones(3, np.float32)
    memory = CellMemory.build(rng.normal(size=(2, 4, 3)), scale, 16, 3, 0)
    assert memory.bank.shape == (4, 3, 3)  # 2 vectors + 1 padding row per cell
    new = rng.normal(size=(5, 4, 3))
    grown = memory.extended(new, 16, 0)
    assert grown.bank.shape == (4, 7, 3)
    nearest = CellMemory(grown.bank, grown.scale, 1).distances(new)
    assert np.allclose(nearest, 0.0, atol=1e-3)  # the new vectors are normal now
    capped = memory.extended(rng.normal(size=(50, 4, 3)), 8, 0)
    assert capped.bank.shape[1] == 2 + 8  # at most `limit` new vectors per cell


def test_merged_calibrator_keeps_its_shape_for_alike_scores_and_softens_for_high_ones() -> None:
    rng = np.random.default_rng(1)
    train = rng.exponential(size=5000)
    calibrator = TailCalibrator.fit(train, 0.9, 0.99)
    same = calibrator.merged(rng.exponential(size=500), 5000)
    assert abs(same.threshold - calibrator.threshold) < 0.15
    high = calibrator.merged(np.full(200, 8.0), 5000)
    assert high(np.array([8.0]))[0] < calibrator(np.array([8.0]))[0]
    assert calibrator.merged(np.array([np.nan]), 5000) is calibrator


def test_pixel_model_learns_a_false_alarm_in_place(pixel, tmp_path) -> None:
    alarm = clip(50, frames=30, fast_row=2)
    before = pixel.score_frames(alarm)[1]
    learned = pixel.extend([alarm])
    after = learned.score_frames(alarm)[1]
    assert np.mean(after[5:]) < np.mean(before[5:])
    assert learned.metadata["frames_added"] == 30
    assert learned.metadata["frames_seen"] == pixel.metadata["frames_seen"] + 30
    assert learned.references == pixel.references  # no refit: same units
    for name, memory in learned.memories.items():
        assert memory.bank.shape[1] > pixel.memories[name].bank.shape[1]
    learned.save(tmp_path)
    again = NormalityModel.load(tmp_path)
    np.testing.assert_allclose(again.score_frames(alarm)[1], after)


def test_pixel_model_refuses_frames_of_another_size(pixel) -> None:
    small = [f[:60, :80] for f in clip(3, frames=10)]
    with pytest.raises(ValueError, match="cannot extend a model fitted at 160x120"):
        pixel.extend([small])


def test_velocity_model_raises_normal_speeds_only_where_the_alarm_moved(velocity) -> None:
    alarm = clip(60, frames=40, fast_row=2)
    before = velocity.score_frames(alarm)[1]
    learned = velocity.extend([alarm])
    assert (learned.normal >= velocity.normal).all()
    assert (learned.normal > velocity.normal).any()
    assert np.allclose(learned.normal[:4], velocity.normal[:4])  # far rows untouched
    assert np.mean(learned.score_frames(alarm)[1][5:]) < np.mean(before[5:])
    with pytest.raises(ValueError, match="two frames"):
        velocity.extend([alarm[:1]])


def test_spread_gives_each_cell_its_neighbours_vectors() -> None:
    features = np.zeros((1, 12, 2), np.float32)  # one frame of a 3 x 4 grid
    features[0, 5] = [1.0, 2.0]  # row 1, col 1
    near = neighbour_vectors(features, (3, 4), 1)
    assert near.shape == (8, 12, 2)
    got = near.any(axis=2).any(axis=0).reshape(3, 4)
    expected = [[True, True, True, False], [True, False, True, False], [True, True, True, False]]
    assert got.tolist() == expected  # the 8 cells around (1, 1), not (1, 1) itself
    assert (near.reshape(8, 3, 4, 2)[:, 0, 0] == [1.0, 2.0]).all(axis=1).sum() == 1
    assert len(neighbour_vectors(features, (3, 4), 0)) == 0
    with pytest.raises(ValueError, match="grid"):
        neighbour_vectors(features, (2, 4), 1)


def test_a_spread_lesson_holds_a_step_away(pixel, velocity) -> None:
    """The same fast walker, taught in one place, is also less novel where it was not shown
    (spread), and the far rows stay as they were."""
    alarm = clip(60, frames=40, fast_row=2)
    elsewhere = clip(61, frames=40, fast_row=2)  # the same row, another start
    exact, spread = velocity.extend([alarm]), velocity.extend([alarm], spread=0.15)
    assert (spread.normal >= exact.normal).all() and (spread.normal > exact.normal).any()
    assert np.allclose(spread.normal[:3], velocity.normal[:3])  # far rows untouched
    near = [m.score_frames(elsewhere)[0][5:].mean() for m in (velocity, exact, spread)]
    assert near[2] <= near[1] <= near[0]
    exact_px, spread_px = pixel.extend([alarm], False), pixel.extend([alarm], False, 0.1)
    grew = [m.memories["shape"].bank.shape[1] for m in (pixel, exact_px, spread_px)]
    assert grew[0] < grew[1] <= grew[2]
    raw = [m.score_frames(elsewhere)[0][5:].mean() for m in (pixel, exact_px, spread_px)]
    assert raw[2] <= raw[1] <= raw[0]


def test_extend_folder_spreads_when_asked(pixel, velocity, tmp_path) -> None:
    parent = tmp_path / "v1"
    pixel.save(parent)
    velocity.save(parent)
    alarm = [clip(73, frames=20, fast_row=1)]
    extend_folder(parent, tmp_path / "exact", alarm, {})
    extend_folder(parent, tmp_path / "spread", alarm, {}, spread=0.15)
    banks = [
        NormalityModel.load(tmp_path / v).memories["shape"].bank.shape[1]
        for v in ("exact", "spread")
    ]
    assert banks[1] > banks[0]
    normal = [VelocityModel.load(tmp_path / v).normal for v in ("exact", "spread")]
    assert (normal[1] >= normal[0]).all() and (normal[1] > normal[0]).any()


def test_tolerating_cells_quiet_the_place_of_the_false_alarm_only(pixel, tmp_path) -> None:
    alarm = clip(60, frames=40, fast_row=2)
    elsewhere = clip(61, frames=40, fast_row=2)
    plain, tolerant = pixel.extend([alarm], False), pixel.extend([alarm], False, 0.0, True)
    scale = tolerant.memories["shape"].cell_scale
    assert scale is not None and (scale >= 1).all() and (scale > 1).any()
    assert (scale == 1).mean() > 0.5  # only where the alarm was more novel than the reference
    raw = [m.score_frames(elsewhere)[0][5:].mean() for m in (plain, tolerant)]
    assert raw[1] <= raw[0]
    tolerant.save(tmp_path)
    again = NormalityModel.load(tmp_path).memories["shape"].cell_scale
    assert np.array_equal(again, scale)


def test_extend_folder_writes_a_new_version_that_says_what_it_learned(
    pixel, velocity, tmp_path
) -> None:
    parent = tmp_path / "v1"
    pixel.save(parent)
    velocity.save(parent)
    looks = _appearance()
    looks.save(parent)  # fitted with an encoder this process has not loaded
    (parent / "notes.txt").write_text("kept")
    learned_from = {"parent_version": 1, "incidents": [7], "frame_ranges": []}
    done = extend_folder(parent, tmp_path / "v2", [clip(70, frames=20, fast_row=1)], learned_from)
    assert set(done.lines) == {"pixel", "velocity", "appearance"}
    assert done.lines["appearance"] == "appearance: kept (fitted with 'tiny'; not loaded here)"
    assert done.frames == 20 and (tmp_path / "v2" / "notes.txt").read_text() == "kept"
    assert "learned_from" not in AppearanceNormalityModel.load(tmp_path / "v2").metadata
    child = NormalityModel.load(tmp_path / "v2")
    assert child.metadata["learned_from"] == learned_from
    assert json.loads((tmp_path / "v2" / VELOCITY_JSON).read_text())["metadata"]["learned_from"]
    assert "learned_from" not in NormalityModel.load(parent).metadata  # the parent is untouched


def _appearance() -> AppearanceNormalityModel:
    rng = np.random.default_rng(3)
    normal = rng.normal(size=(40, 2, 8)) + np.array([3.0] + [0.0] * 7)
    normal /= np.linalg.norm(normal, axis=2, keepdims=True)
    config = AppearanceNormalityConfig(tile_rows=1, folds=2)
    return fit_appearance_model([normal[:20], normal[20:]], "tiny", (160, 120), config)


def test_appearance_model_learns_new_views_of_its_tiles() -> None:
    model = _appearance()
    rng = np.random.default_rng(4)
    odd = rng.normal(size=(6, 2, 8)) + np.array([0.0, 0.0, 3.0] + [0.0] * 5)
    odd /= np.linalg.norm(odd, axis=2, keepdims=True)
    before = [v.score for v in model.score(odd)]
    learned = model.extend_embeddings(odd)
    assert learned.bank.shape[1] > model.bank.shape[1]
    assert np.mean([v.score for v in learned.score(odd)]) < np.mean(before)
    assert learned.metadata["frames_added"] == 6
    with pytest.raises(ValueError, match="expects 2 tiles"):
        model.extend_embeddings(odd[:, :1])


def test_object_model_learns_boxes_counts_and_new_classes() -> None:
    def person(cx: float, cy: float) -> Detection:
        return Detection("person", 0.9, (cx - 0.05, cy - 0.1, cx + 0.05, cy + 0.1))

    normal = [[person(0.2 + 0.01 * i, 0.5)] for i in range(40)]
    model = fit_object_model([normal], "det", ObjectNormalityConfig(folds=2))
    cart = Detection("vehicle", 0.9, (0.4, 0.4, 0.6, 0.6))
    odd = [[person(0.8, 0.9), cart] for _ in range(6)]
    before = [v.score for v in model.score(odd)]
    learned = model.extend_detections(odd)
    assert "vehicle" in learned.classes and "vehicle" not in model.classes
    assert len(learned.classes["person"].boxes) > len(model.classes["person"].boxes)
    assert np.mean([v.score for v in learned.score(odd)]) < np.mean(before)


def test_extend_folder_leaves_nothing_behind_on_error(pixel, tmp_path) -> None:
    pixel.save(tmp_path / "v1")
    with pytest.raises(ValueError):
        extend_folder(tmp_path / "v1", tmp_path / "v2", [[]], {})
    assert not (tmp_path / "v2").exists()
    with pytest.raises(ValueError, match="no frames"):
        extend_models({"pixel": pixel}, [])


def test_extend_folder_learns_recorded_detections_without_a_detector(pixel, tmp_path) -> None:
    """The worker's stored detections of the frames stand in for the detector (none is loaded
    here): the object model learns them; outputs of another detector, or not one per frame,
    are not used (the model is then kept, its detector not being loaded)."""
    cart = Detection("vehicle", 0.9, (0.4, 0.4, 0.6, 0.6))
    normal = [[Detection("person", 0.9, (0.1, 0.3, 0.2, 0.5))] for _ in range(40)]
    parent = tmp_path / "v1"
    pixel.save(parent)
    fit_object_model([normal], "det", ObjectNormalityConfig(folds=2)).save(parent)
    frames = [clip(71, frames=12, fast_row=1)]
    per_frame = [[cart]] * 12

    done = extend_folder(
        parent, tmp_path / "v2", frames, {}, recorded={"detector": Recorded("det", per_frame)}
    )
    assert "(stored outputs)" in done.lines["objects"], done.lines
    assert "vehicle" in ObjectNormalityModel.load(tmp_path / "v2").classes

    for name, outputs in (("other", per_frame), ("det", per_frame[:-1])):
        target = tmp_path / f"v-{name}-{len(outputs)}"
        done = extend_folder(
            parent, target, frames, {}, recorded={"detector": Recorded(name, outputs)}
        )
        assert done.lines["objects"] == "objects: kept (fitted with 'det'; not loaded here)"


def test_feedback_keeps_the_parents_calibration_unless_asked_to_recalibrate(
    pixel, velocity, tmp_path
) -> None:
    """Kept (the default): the false alarm's frames fall under the threshold through the memory
    alone, and the camera's calibration elsewhere is the parent's; recalibrated: the merged
    held-out scores move it."""
    parent = tmp_path / "v1"
    pixel.save(parent)
    velocity.save(parent)
    alarm = [clip(72, frames=20, fast_row=1)]
    kept = extend_folder(parent, tmp_path / "kept", alarm, {})
    moved = extend_folder(parent, tmp_path / "moved", alarm, {}, recalibrate=True)
    assert all(line.endswith("calibration kept") for line in kept.lines.values()), kept.lines
    assert not any("calibration kept" in line for line in moved.lines.values()), moved.lines
    for folder, same in (("kept", True), ("moved", False)):
        child = NormalityModel.load(tmp_path / folder)
        assert (child.calibrator.to_dict() == pixel.calibrator.to_dict()) is same, folder
        fast = json.loads((tmp_path / folder / VELOCITY_JSON).read_text())["calibration"]
        assert (fast == velocity.calibrator.to_dict()) is same, folder
    # the memory alone makes the alarm normal: its frames score lower than before
    before = pixel.score_frames(alarm[0])[1]
    after = NormalityModel.load(tmp_path / "kept").score_frames(alarm[0])[1]
    assert np.nanmean(after) < np.nanmean(before)
