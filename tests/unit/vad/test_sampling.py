"""Sampling a source down to the analysis frame rate: the stride rule (`AnalysisSampler`) and its
fallback by media time (`FpsSampler`)."""

from __future__ import annotations

import numpy as np
import pytest

from vad.sampling import (
    AnalysisSampler,
    FpsSampler,
    analysis_rate,
    analysis_stride,
    camera_rates,
    hold_scores,
    sample_stream,
)


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


# --- a recording read as a worker analyses it (vad eval) ----------------------------------------


def test_sample_stream_keeps_what_ingest_keeps_with_decoded_indices() -> None:
    frames = [f"f{i}" for i in range(50)]  # 2 s at 25 fps
    kept = list(sample_stream(frames, 25.0, 10.0))
    indices = [i for i, _ in kept]
    assert all(frames[i] == f for i, f in kept)
    sampler = AnalysisSampler(10.0, 25.0)
    assert indices == [i for i in range(50) if sampler.due(i / 25)]
    assert indices == list(range(0, 50, 3))  # every step 0.12 s


@pytest.mark.parametrize("source_fps", [10.0, 5.0, 9.99, 0.0, None])
def test_a_recording_not_faster_than_the_analysis_rate_is_kept_whole(source_fps) -> None:
    frames = list(range(37))
    assert list(sample_stream(frames, source_fps, 10.0)) == list(enumerate(frames))


def test_every_frame_twice_at_double_rate_gives_back_the_recording() -> None:
    recorded = list(range(60))
    doubled = [f for f in recorded for _ in range(2)]
    kept = list(sample_stream(doubled, 20.0, 10.0))
    assert [f for _, f in kept] == recorded
    assert [i for i, _ in kept] == list(range(0, 120, 2))


def test_held_scores_are_those_of_the_latest_analysed_frame_at_or_before() -> None:
    held = hold_scores([0.1, 0.5, 0.9], [0, 3, 5], 8)
    assert held.tolist() == [0.1, 0.1, 0.1, 0.5, 0.5, 0.9, 0.9, 0.9]
    late = hold_scores([0.4], [2], 4)
    assert np.isnan(late[:2]).all() and late[2:].tolist() == [0.4, 0.4]
    assert hold_scores([], [], 0).shape == (0,)


def test_held_scores_of_every_frame_are_the_scores_themselves() -> None:
    scores = np.array([0.3, np.nan, 0.7, 0.2], np.float32)
    held = hold_scores(scores, range(4), 4)
    assert held.dtype == np.float32
    np.testing.assert_array_equal(held, scores)


def test_held_scores_refuse_mismatched_or_unordered_indices() -> None:
    with pytest.raises(ValueError, match="2 scores for 3"):
        hold_scores([0.1, 0.2], [0, 1, 2], 3)
    with pytest.raises(ValueError, match="increasing"):
        hold_scores([0.1, 0.2], [2, 1], 3)


# --- the stride rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source_fps", "fps", "stride"),
    [
        (25, 10, 3),  # 8.33 (x1.2 below) beats 12.5 (x1.25 above)
        (30, 10, 3),
        (29.97, 10, 3),
        (20, 10, 2),
        (50, 10, 5),
        (60, 10, 6),
        (24, 10, 2),  # 12 (x1.2) beats 8 (x1.25)
        (15, 10, 2),  # 7.5 (x1.33) beats 15 (x1.5)
        (12.5, 10, 1),  # 12.5 (x1.25) beats 6.25 (x1.6)
        (10.5, 10, 1),
        (10, 10, 1),
        (5, 10, 1),
        (25, 12.5, 2),  # an operator's camera.fps that divides the source's: reached exactly
        (25, 5, 5),
    ],
)
def test_the_stride_brings_the_rate_closest_to_the_target_in_ratio(
    source_fps: float, fps: float, stride: int
) -> None:
    assert analysis_stride(source_fps, fps) == stride
    assert analysis_rate(source_fps, fps) == pytest.approx(source_fps / stride)


@pytest.mark.parametrize("source_fps", [11, 14, 14.2, 19, 21, 25, 27, 33, 47, 59.94, 240])
def test_no_whole_stride_comes_closer_than_the_chosen_one(source_fps: float) -> None:
    def off(k: int) -> float:
        return max(source_fps / k / 10, 10 * k / source_fps)

    chosen = analysis_stride(source_fps, 10)
    assert all(off(chosen) <= off(k) for k in range(1, 40))
    below = int(source_fps // 10)  # the rates of `below` and `below` + 1 bracket the target
    assert off(chosen) <= (1 + 1 / below) ** 0.5 + 1e-9


@pytest.mark.parametrize("source_fps", [None, 0.0])
def test_an_unknown_source_rate_has_no_stride(source_fps) -> None:
    assert analysis_stride(source_fps, 10) is None
    assert analysis_rate(source_fps, 10) == 10


def test_a_25_fps_file_is_analysed_in_even_steps_for_an_hour() -> None:
    sampler = AnalysisSampler(10, 25)
    times = np.array(_source(25, 3600, start=1.7e9))
    kept = times[[sampler.due(t) for t in times]]
    assert sampler.counting and len(kept) == 30000
    np.testing.assert_allclose(np.diff(kept), 0.12, atol=1e-6)


def test_a_live_clock_with_network_jitter_still_counts() -> None:
    rng = np.random.default_rng(7)
    times = np.arange(0, 600, 1 / 25) + rng.uniform(-0.03, 0.03, 15000)
    sampler = AnalysisSampler(10, 25)
    kept = [i for i, t in enumerate(times) if sampler.due(t)]
    assert sampler.counting and kept == list(range(0, 15000, 3))


def test_a_camera_clock_slightly_off_its_announced_rate_still_counts() -> None:
    sampler = AnalysisSampler(10, 25)
    assert all(sampler.due(t) or True for t in _source(24.9, 600))
    assert sampler.counting


def test_a_camera_sending_half_its_announced_rate_is_sampled_by_media_time() -> None:
    # announces 25 fps, sends 12.5 (a night mode): counting every 3rd frame would analyse 4.2 fps
    sampler = AnalysisSampler(10, 25)
    times = np.array(_source(12.5, 60))
    kept = times[[sampler.due(t) for t in times]]
    assert not sampler.counting
    later = kept[kept > 10.5]  # from the first rate check on, the camera's analysis rate holds
    assert len(later) / (later[-1] - later[0]) == pytest.approx(25 / 3, rel=0.02)


def test_lost_frames_only_lengthen_one_step() -> None:
    lost = set(range(500, 504))  # 0.16 s lost
    times = [t for i, t in enumerate(_source(25, 60)) if i not in lost]
    sampler = AnalysisSampler(10, 25)
    kept = np.array([t for t in times if sampler.due(t)])
    assert sampler.counting
    gaps = np.diff(kept)
    assert np.sum(np.abs(gaps - 0.12) > 1e-6) == 1 and gaps.max() == pytest.approx(0.28)


def test_a_burst_after_a_stall_keeps_counting() -> None:
    # a live camera: the first 0.4 s arrive at once when it connects, a 1 s stall at 30 s is
    # caught up in a burst; the content is still every frame at 25 fps
    arrival = np.arange(0, 60, 1 / 25)
    arrival[:10] = 0.4
    stalled = (arrival >= 30) & (arrival < 31)
    arrival[stalled] = np.linspace(31, 31.05, stalled.sum())
    sampler = AnalysisSampler(10, 25)
    kept = [i for i, t in enumerate(arrival) if sampler.due(t)]
    assert sampler.counting and kept == list(range(0, 1500, 3))


def test_unknown_rate_samples_by_media_time_at_the_target() -> None:
    sampler, reference = AnalysisSampler(10, None), FpsSampler(10)
    times = _source(25, 30)
    assert [sampler.due(t) for t in times] == [reference.due(t) for t in times]
    assert sampler.rate == 10 and not sampler.counting


def test_a_10_fps_source_keeps_every_frame_as_before() -> None:
    times = _source(10, 120, start=1.7e9)
    sampler, before = AnalysisSampler(10, 10), FpsSampler(10)
    assert [t for t in times if sampler.due(t)] == [t for t in times if before.due(t)] == times


def test_camera_rates_show_the_rate_analysed_beside_the_setting() -> None:
    rates = camera_rates(10, 25)
    assert (rates.setting, rates.source, rates.stride) == (10, 25, 3)
    assert rates.analysed == pytest.approx(25 / 3)
    assert camera_rates(10, 12.5).analysed == 12.5  # every frame: faster than the setting
    assert camera_rates(5, 4).analysed == 4  # a slower source is analysed whole


@pytest.mark.parametrize("source_fps", [None, 0.0])
def test_camera_rates_of_an_unknown_source_are_the_setting(source_fps) -> None:
    rates = camera_rates(10, source_fps)
    assert (rates.source, rates.analysed, rates.stride) == (None, 10, None)
