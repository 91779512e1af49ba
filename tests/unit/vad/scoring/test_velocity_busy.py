"""The velocity model's busy correction (docs/benchmarks-normality.md, busy-scene round): a
frame's max over cells corrected for how many of its cells move. `off` must be main's plain max
bit for bit; `curve` and `count` must lower a crowded frame's novelty against a quiet one's of
the same max, never raise it, and be saved and loaded with the model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.unit.vad.scoring.test_velocity import clip
from vad.scoring.velocity import (
    VELOCITY_JSON,
    VelocityConfig,
    VelocityModel,
    busy_novelty,
    busy_strength,
    fit_velocity_model,
    moving_cells,
)


def frames(crowd: int, top: float = 2.0, cells: int = 100) -> np.ndarray:
    """One frame of (1, 1, cells) ratios: one cell at `top`, `crowd` more at 0.8."""
    ratios = np.zeros((1, 1, cells), np.float32)
    ratios[0, 0, :crowd] = 0.8
    ratios[0, 0, -1] = top
    return ratios


def test_moving_cells_counts_cells_at_the_floor_or_faster():
    assert moving_cells(frames(5), 0.5).tolist() == [6]
    assert moving_cells(frames(5), 0.9).tolist() == [1]


@pytest.mark.parametrize("mode", ["curve", "count"])
def test_a_crowd_lowers_the_same_max_and_off_keeps_it(mode):
    quiet, crowded = frames(0), frames(40)
    assert busy_novelty(crowded, "off", 0.3, 0.5).tolist() == [pytest.approx(2.0)]
    assert busy_novelty(crowded, mode, 0.3, 0.5)[0] < busy_novelty(quiet, mode, 0.3, 0.5)[0]
    assert busy_novelty(quiet, mode, 0.0, 0.5)[0] == pytest.approx(2.0)


def test_the_curve_slope_follows_the_growth_and_is_never_negative():
    rng = np.random.default_rng(0)
    growing, shrinking = [], []
    for crowd in rng.integers(0, 60, size=200):
        growing.append(frames(int(crowd), top=1.0 + 0.01 * crowd))
        shrinking.append(frames(int(crowd), top=2.0 - 0.01 * crowd))
    assert busy_strength(growing, "curve", 0.5) > 0.05
    assert busy_strength(shrinking, "curve", 0.5) == 0.0
    assert busy_strength(growing, "off", 0.5) == 0.0


def test_the_count_scale_is_the_tail_of_the_moving_cells():
    rng = np.random.default_rng(1)
    ratios = 0.5 + rng.exponential(0.2, size=(400, 4, 5)).astype(np.float32)
    assert busy_strength([ratios], "count", 0.5) == pytest.approx(0.2, rel=0.15)


@pytest.fixture(scope="module")
def clips() -> list[list[np.ndarray]]:
    return [clip(seed) for seed in range(6)]


def test_off_fits_and_scores_as_main(clips):
    plain = fit_velocity_model(clips)
    off = fit_velocity_model(clips, VelocityConfig(busy_correction="off"))
    assert off.busy_strength == 0.0
    test = clip(9, fast_row=1)
    np.testing.assert_array_equal(plain.score_frames(test)[1], off.score_frames(test)[1])


@pytest.mark.parametrize("mode", ["curve", "count"])
def test_a_corrected_model_still_finds_the_fast_walker_and_reloads(clips, mode, tmp_path):
    model = fit_velocity_model(clips, VelocityConfig(busy_correction=mode))
    assert model.busy_strength >= 0
    fast = model.score_frames(clip(9, fast_row=1))[1]
    normal = model.score_frames(clip(8))[1]
    assert fast[5:].mean() > normal[5:].mean()
    model.save(tmp_path)
    again = VelocityModel.load(tmp_path)
    assert again.busy_strength == model.busy_strength
    np.testing.assert_array_equal(again.score_frames(clip(8))[1], normal)


def test_a_model_saved_before_the_busy_round_loads_as_the_plain_max(clips, tmp_path):
    fit_velocity_model(clips).save(tmp_path)
    doc = json.loads((tmp_path / VELOCITY_JSON).read_text())
    del doc["busy_strength"]
    for key in ("busy_correction", "busy_floor"):
        del doc["config"][key]
    (tmp_path / VELOCITY_JSON).write_text(json.dumps(doc))
    old = VelocityModel.load(tmp_path)
    assert old.busy_strength == 0.0 and old.config.busy_correction == "off"


def test_still_frames_do_not_set_the_curve_slope():
    """A clip's first frame (no predecessor) and still frames have a max of 0; at log 0 they
    would pull the slope up to about 1 (V1's flaw): only frames where a cell moves count."""
    rng = np.random.default_rng(2)
    flat = [frames(int(crowd), top=1.0) for crowd in rng.integers(0, 60, size=200)]
    still = [np.zeros((1, 1, 100), np.float32)] * 20
    assert busy_strength(flat + still, "curve", 0.5) == pytest.approx(0.0, abs=1e-6)
