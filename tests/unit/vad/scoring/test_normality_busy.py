"""The busy-scene correction of a frame's worst cell (vad/scoring/normality/busy.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vad.scoring.normality.busy import (
    BusyCorrection,
    activity_slope,
    count_corrected,
    sidak_surprise,
)
from vad.scoring.normality.calibration import TailCalibrator


def _held(frames: int = 2000, cells: int = 60, seed: int = 0) -> np.ndarray:
    """(T, C) distances: each frame moves in a random number of cells, each a gamma draw."""
    rng = np.random.default_rng(seed)
    moving = rng.integers(0, cells, frames)
    d = rng.gamma(2.0, 1.0, (frames, cells))
    d[np.arange(cells)[None, :] >= moving[:, None]] = 0.0
    return d


def test_one_draw_is_its_own_surprise_and_many_draws_are_less_surprising() -> None:
    s = np.array([0.1, 1.0, 5.0, 40.0])
    np.testing.assert_allclose(sidak_surprise(s, np.ones(4)), s, rtol=1e-9)
    ten = sidak_surprise(s, np.full(4, 10))
    assert np.all(ten < s) and np.all(ten >= 0)
    # far in the tail: the max of n is n times as likely
    assert ten[-1] == pytest.approx(40.0 - np.log(10))
    assert sidak_surprise(np.array([29.999]), np.array([10]))[0] == pytest.approx(
        sidak_surprise(np.array([30.001]), np.array([10]))[0], abs=1e-2
    )


def test_count_corrected_keeps_one_draw_and_lowers_the_max_of_many() -> None:
    tail = TailCalibrator.fit(np.random.default_rng(1).gamma(2.0, 1.0, 5000), 0.9, 0.99)
    value = np.array([6.0, 6.0, 6.0])
    out = count_corrected(value, np.array([1, 10, 100]), tail)
    assert out[0] == pytest.approx(6.0, rel=1e-6)
    assert out[0] > out[1] > out[2]


def test_off_is_the_plain_max() -> None:
    held = _held()
    plain = BusyCorrection.fit("off", held, 0.9, 0.99)
    np.testing.assert_array_equal(plain.frame_values(held), held.max(axis=1))


def test_count_lowers_a_busy_frame_against_a_quiet_one_with_the_same_worst_cell() -> None:
    corr = BusyCorrection.fit("count", _held(), 0.9, 0.99)
    quiet = np.zeros((1, 60))
    quiet[0, :2] = [8.0, 1.0]
    busy = np.full((1, 60), 1.0)
    busy[0, 0] = 8.0
    assert corr.frame_values(busy)[0] < corr.frame_values(quiet)[0]
    assert corr.frame_values(np.zeros((1, 60)))[0] == 0.0


def test_curve_slope_follows_how_the_max_grows_with_moving_cells() -> None:
    corr = BusyCorrection.fit("curve", _held(), 0.9, 0.99)
    assert 0.0 < corr.slope <= 1.0
    assert corr.typical > 1
    flat = activity_slope(np.arange(1.0, 201.0), np.full(200, 3.0))
    assert flat == 0.0
    falling = activity_slope(np.arange(1.0, 201.0), 100.0 / np.arange(1.0, 201.0))
    assert falling == 0.0  # clipped: a busier frame is never made more novel


def test_too_little_motion_falls_back_to_the_max() -> None:
    held = np.zeros((50, 10))
    assert BusyCorrection.fit("count", held, 0.9, 0.99).kind == "off"
    assert BusyCorrection.fit("curve", held, 0.9, 0.99).kind == "off"


@pytest.mark.parametrize("kind", ["count", "curve"])
def test_round_trip(kind: str) -> None:
    held = _held()
    corr = BusyCorrection.fit(kind, held, 0.9, 0.99)
    again = BusyCorrection.from_dict(corr.to_dict())
    np.testing.assert_allclose(again.frame_values(held), corr.frame_values(held))


def _walkers(seed: int, frames: int = 24, people: int = 3) -> list[np.ndarray]:
    """A grey textured scene with `people` textured blocks walking right."""
    rng = np.random.default_rng(seed)
    scene = rng.integers(60, 120, (64, 96, 3), dtype=np.uint8)
    patch = rng.integers(0, 255, (12, 6, 3), dtype=np.uint8)
    rows = rng.integers(5, 50, people)
    out = []
    for t in range(frames):
        frame = scene.copy()
        for k, r in enumerate(rows):
            x = (7 * k + 2 * t) % 88
            frame[r : r + 12, x : x + 6] = patch
        out.append(frame)
    return out


@pytest.fixture(scope="module")
def fitted():
    from vad.scoring.normality import NormalityConfig, fit_normality_model

    config = NormalityConfig(internal_width=96, memory_per_cell=32, busy_correction="count")
    return fit_normality_model([_walkers(s) for s in range(4)], config)


def test_a_fitted_model_keeps_its_correction_through_save_and_load(fitted, tmp_path) -> None:
    import json

    from vad.scoring.normality import NormalityModel

    assert fitted.busy["shape"].kind == "count"
    fitted.save(tmp_path)
    loaded = NormalityModel.load(tmp_path)
    clip = _walkers(9)
    np.testing.assert_allclose(loaded.score_frames(clip)[1], fitted.score_frames(clip)[1])
    # a model saved before the busy-scene round has no correction: it takes the plain max
    doc = json.loads((tmp_path / "model.json").read_text())
    del doc["busy_correction"]
    del doc["config"]["busy_correction"]
    (tmp_path / "model.json").write_text(json.dumps(doc))
    old = NormalityModel.load(tmp_path)
    assert old.busy == {} and old.config.busy_correction == "off"


def test_default_off_fits_no_correction() -> None:
    from vad.scoring.normality import NormalityConfig, fit_normality_model

    config = NormalityConfig(internal_width=96, memory_per_cell=32)
    assert fit_normality_model([_walkers(s) for s in range(4)], config).busy == {}
