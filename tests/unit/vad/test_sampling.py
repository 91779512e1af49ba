"""FpsSampler: sampling a source down to the analysis frame rate by media time."""

from __future__ import annotations

import numpy as np
import pytest

from vad.sampling import FpsSampler


def _kept(sampler: FpsSampler, times) -> list[float]:
    return [t for t in times if sampler.due(t)]


def _source(fps: float, seconds: float, start: float = 0.0) -> list[float]:
    return [start + i / fps for i in range(round(fps * seconds))]


def test_the_first_frame_is_always_kept() -> None:
    assert FpsSampler(10).due(1234.5)


def test_25_to_10_fps_keeps_ten_a_second_without_drift_over_a_minute() -> None:
    kept = np.array(_kept(FpsSampler(10), _source(25, 60)))
    assert len(kept) == 600
    per_second = np.bincount(np.floor(kept + 1e-9).astype(int), minlength=60)
    assert set(per_second) == {10}
    # Kept frames stay on the 0.1 s grid (within one source frame) for the whole minute.
    assert np.max(np.abs(kept - np.round(kept * 10) / 10)) <= 1 / 25 + 1e-9
    gaps = np.diff(kept)
    assert gaps.min() >= 0.08 - 1e-9 and gaps.max() <= 0.12 + 1e-9


@pytest.mark.parametrize(
    ("source_fps", "target_fps"),
    [(25, 10), (30, 10), (30, 7), (29.97, 5), (60, 25), (24, 1), (50, 12.5), (30, 15)],
)
def test_kept_rate_matches_the_target_over_long_runs(source_fps: float, target_fps: float) -> None:
    seconds = 120
    kept = _kept(FpsSampler(target_fps), _source(source_fps, seconds, start=1.7e9))
    assert len(kept) == pytest.approx(target_fps * seconds, abs=1)
    # Staying on the grid means a gap can be one source frame short of a period, never more.
    gaps = np.diff(kept)
    assert gaps.min() >= 1 / target_fps - 1 / source_fps - 1e-6
    assert gaps.max() <= 1 / target_fps + 1 / source_fps + 1e-6


@pytest.mark.parametrize(("source_fps", "target_fps"), [(25, 30), (10, 10), (12, 25), (25, 25)])
def test_target_at_or_above_the_source_rate_keeps_every_frame(
    source_fps: float, target_fps: float
) -> None:
    times = _source(source_fps, 30, start=1.7e9)
    assert _kept(FpsSampler(target_fps), times) == times


def test_source_timestamp_jitter_does_not_drop_frames_at_equal_rates() -> None:
    rng = np.random.default_rng(0)
    times = np.arange(0, 60, 0.1) + rng.uniform(-0.003, 0.003, 600)
    assert len(_kept(FpsSampler(10), times)) == 600


def test_a_forward_jump_restarts_the_grid_instead_of_bursting_to_catch_up() -> None:
    sampler = FpsSampler(10)
    before = _kept(sampler, _source(25, 5))
    after = _kept(sampler, _source(25, 5, start=1000.0))  # the stream skips 995 s
    assert len(before) == 50 and len(after) == 50
    assert after[0] == 1000.0
    assert np.min(np.diff(after)) >= 0.08 - 1e-9


def test_a_gap_longer_than_one_period_keeps_the_next_frame_at_once() -> None:
    sampler = FpsSampler(10)
    assert sampler.due(0.0)
    assert sampler.due(0.35)  # a stall of 3.5 periods
    assert not sampler.due(0.40)
    assert sampler.due(0.45)  # the grid now follows 0.35


def test_a_short_late_frame_keeps_the_grid() -> None:
    sampler = FpsSampler(10)
    assert sampler.due(0.0)
    assert sampler.due(0.13)  # late, but within one period: the next due time stays 0.2
    assert sampler.due(0.2)


def test_frames_just_under_the_due_time_count_within_tolerance() -> None:
    sampler = FpsSampler(10)
    assert sampler.due(0.0)
    assert not sampler.due(0.094)
    assert sampler.due(0.0951)  # 5 % of a period early is on time


def test_repeated_timestamps_are_kept_once() -> None:
    sampler = FpsSampler(10)
    assert [sampler.due(5.0) for _ in range(3)] == [True, False, False]


def test_live_clock_source_at_irregular_rate() -> None:
    # A live camera whose frames arrive at a jittery ~15 fps, sampled to 5 fps for 60 s.
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(1 / 20, 1 / 12, 2000))
    times = times[times < 60]
    kept = _kept(FpsSampler(5), times)
    assert len(kept) == pytest.approx(5 * (times[-1] - times[0]), abs=2)
