"""The incident state machine: smoothing, hysteresis in time, peaks, and resumable state."""

from __future__ import annotations

import json
import math
import random

import pytest

from vad.incidents import IncidentConfig, IncidentEvent, IncidentTracker, ScoredFrame, TrackerState

FPS = 10
T0 = 1_700_000_000.0


def _config(smoothing: float = 0.0, min_duration: float = 1.0, cooldown: float = 5.0):
    return IncidentConfig(
        smoothing_seconds=smoothing, min_duration_seconds=min_duration, cooldown_seconds=cooldown
    )


def _tracker(threshold: float = 0.6, **config) -> IncidentTracker:
    return IncidentTracker(_config(**config), threshold)


def _stream(*segments: tuple[float, float], start: float = T0, offset: int = 0):
    """Frames at FPS from (seconds, score) segments; offsets count up from `offset`."""
    frames: list[ScoredFrame] = []
    i = 0
    for seconds, score in segments:
        for _ in range(round(seconds * FPS)):
            frames.append(ScoredFrame(start + i / FPS, score, offset + i))
            i += 1
    return frames


def _at(frames: list[ScoredFrame], seconds: float) -> float:
    return frames[round(seconds * FPS)].captured_at


# --- opening -----------------------------------------------------------------------------------


def test_no_incident_below_the_threshold() -> None:
    tracker = _tracker(smoothing=1.0)
    frames = _stream((120, 0.59), (1, 0.0), (60, 0.5999))
    assert tracker.feed(frames) == []
    assert not tracker.state.open
    assert tracker.state.frames_seen == len(frames)


def test_opens_only_once_the_score_stayed_up_for_min_duration() -> None:
    frames = _stream((10, 0.1), (4, 0.9))
    tracker = _tracker(min_duration=1.0)
    seen: list[tuple[float, list[IncidentEvent]]] = []
    for frame in frames:
        events = tracker.feed([frame])
        if events:
            seen.append((frame.captured_at, events))
    assert len(seen) == 1
    opened_on, (event,) = seen[0]
    assert event.kind == "opened"
    assert event.started_at == _at(frames, 10.0)  # when the score went up...
    assert opened_on == _at(frames, 11.0)  # ...reported min_duration later
    assert event.ended_at is None


def test_a_run_shorter_than_min_duration_is_not_an_incident() -> None:
    tracker = _tracker(min_duration=1.0)
    frames = _stream((5, 0.1), (0.9, 0.95), (5, 0.1), (0.9, 0.95), (5, 0.1))
    assert tracker.feed(frames) == []
    assert not tracker.state.open and tracker.state.above_since is None


def test_exactly_at_the_threshold_counts_as_above() -> None:
    events = _tracker(threshold=0.6).feed(_stream((3, 0.6)))
    assert [e.kind for e in events] == ["opened"]


def test_zero_min_duration_opens_on_the_first_frame_over() -> None:
    frames = _stream((1, 0.0), (1, 0.8))
    events = _tracker(min_duration=0.0).feed(frames)
    assert [e.kind for e in events] == ["opened"]
    assert events[0].started_at == _at(frames, 1.0)


def test_smoothing_ignores_a_single_spike_but_follows_a_sustained_rise() -> None:
    spike = _stream((10, 0.0), (0.1, 1.0), (10, 0.0))
    assert _tracker(smoothing=1.0, min_duration=0.0).feed(spike) == []
    sustained = _stream((10, 0.0), (5, 1.0))
    events = _tracker(smoothing=1.0, min_duration=0.0).feed(sustained)
    assert [e.kind for e in events] == ["opened"]
    # exp smoothing with tau = 1 s passes 0.6 about tau * ln(1 / 0.4) = 0.92 s after the rise
    assert 0.8 <= events[0].started_at - _at(sustained, 10.0) <= 1.0


def test_peak_is_the_highest_raw_frame_and_its_offset() -> None:
    frames = _stream((5, 0.1), (0.5, 0.8), (0.1, 0.97), (1.4, 0.85), offset=500)
    (event,) = _tracker().feed(frames)
    assert event.kind == "opened"
    assert event.peak_score == 0.97
    assert event.peak_at == _at(frames, 5.5)
    assert event.peak_offset == 500 + 55


# --- closing -----------------------------------------------------------------------------------


def test_closes_after_cooldown_with_ended_at_when_it_fell_below() -> None:
    frames = _stream((5, 0.1), (10, 0.9), (10, 0.1))
    tracker = _tracker(cooldown=5.0)
    closes = [(f.captured_at, e) for f in frames for e in tracker.feed([f]) if e.kind == "closed"]
    assert len(closes) == 1
    closed_on, event = closes[0]
    assert event.started_at == _at(frames, 5.0)
    assert event.ended_at == _at(frames, 15.0)
    assert closed_on == _at(frames, 20.0)
    assert event.peak_score == 0.9 and event.peak_offset == 50
    assert not tracker.state.open and tracker.state.peak_offset == -1


def test_still_open_at_the_end_of_the_stream_has_no_closed_event() -> None:
    events = _tracker(cooldown=5.0).feed(_stream((5, 0.9), (4.9, 0.1)))
    assert [e.kind for e in events] == ["opened"]


def test_brief_dips_inside_an_incident_do_not_close_it() -> None:
    frames = _stream(
        (2, 0.1),
        (3, 0.9),
        (4.5, 0.2),
        (1, 0.9),
        (0.5, 0.3),
        (2, 0.9),
        (4.9, 0.0),
        (0.3, 0.95),
        (6, 0.0),
    )
    events = _tracker(cooldown=5.0).feed(frames)
    assert [e.kind for e in events] == ["opened", "closed"]
    opened, closed = events
    assert opened.started_at == closed.started_at == _at(frames, 2.0)
    assert closed.ended_at == _at(frames, 18.2)  # the last fall, after the 0.95 blip
    assert closed.peak_score == 0.95


def test_two_separate_incidents() -> None:
    frames = _stream((2, 0.1), (3, 0.9), (6, 0.1), (3, 0.7), (6, 0.1))
    events = _tracker(cooldown=5.0).feed(frames)
    assert [e.kind for e in events] == ["opened", "closed", "opened", "closed"]
    assert events[2].started_at == _at(frames, 11.0)
    assert events[3].peak_score == 0.7  # the first incident's peak does not leak into the next


def test_zero_cooldown_closes_on_the_first_frame_below() -> None:
    frames = _stream((3, 0.9), (1, 0.1))
    events = _tracker(cooldown=0.0).feed(frames)
    assert [e.kind for e in events] == ["opened", "closed"]
    assert events[1].ended_at == _at(frames, 3.0)


# --- NaN ---------------------------------------------------------------------------------------


def test_nan_scores_are_ignored() -> None:
    clean = _stream((2, 0.1), (3, 0.9), (7, 0.1))
    holey = [
        ScoredFrame(f.captured_at, math.nan, f.offset) if i % 3 == 1 else f
        for i, f in enumerate(clean)
    ]
    kept = [f for f in holey if not math.isnan(f.score)]
    tracker_a, tracker_b = _tracker(smoothing=1.0), _tracker(smoothing=1.0)
    assert tracker_a.feed(holey) == tracker_b.feed(kept)
    assert tracker_a.state == tracker_b.state
    assert tracker_a.state.frames_seen == len(kept)
    assert not math.isnan(tracker_a.state.smoothed)


def test_only_nan_scores_change_nothing() -> None:
    tracker = _tracker()
    assert tracker.feed([ScoredFrame(T0 + i, math.nan, i) for i in range(50)]) == []
    assert tracker.state == TrackerState()


def test_nan_frames_do_not_hold_an_incident_open_or_closed() -> None:
    # An incident whose frames all become undecodable keeps its state until real scores return.
    frames = _stream((3, 0.9)) + [ScoredFrame(T0 + 3 + i, math.nan, 30 + i) for i in range(60)]
    events = _tracker(cooldown=5.0).feed(frames)
    assert [e.kind for e in events] == ["opened"]


# --- updated -----------------------------------------------------------------------------------


def test_updated_event_when_the_peak_rises_in_a_later_window() -> None:
    tracker = _tracker()
    first = _stream((3, 0.8))
    assert [e.kind for e in tracker.feed(first)] == ["opened"]
    assert tracker.feed(_stream((2, 0.75), start=T0 + 3, offset=30)) == []  # no new peak
    second = _stream((1, 0.8), (0.1, 0.93), (0.9, 0.8), start=T0 + 5, offset=50)
    (event,) = tracker.feed(second)
    assert event.kind == "updated"
    assert (event.peak_score, event.peak_at, event.peak_offset) == (0.93, T0 + 6.0, 60)
    assert event.started_at == T0 and event.ended_at is None
    assert tracker.feed(_stream((2, 0.9), start=T0 + 7, offset=70)) == []  # 0.9 < 0.93


def test_peak_rise_in_the_closing_window_is_carried_by_the_closed_event() -> None:
    tracker = _tracker(cooldown=1.0)
    tracker.feed(_stream((3, 0.8)))
    events = tracker.feed(_stream((1, 0.99), (2, 0.1), start=T0 + 3, offset=30))
    assert [e.kind for e in events] == ["closed"]
    assert events[0].peak_score == 0.99


def test_open_incident_reports_its_current_peak_after_every_window() -> None:
    tracker = _tracker(min_duration=1.0)
    # Opens at 1.0 s with peak 0.8; the 0.99 frame comes 0.5 s later, in the same window.
    events = tracker.feed(_stream((1.5, 0.8), (0.1, 0.99), (0.4, 0.8)))
    assert tracker.state.open and tracker.state.peak_score == 0.99
    assert events[-1].peak_score == 0.99


# --- resumable state ---------------------------------------------------------------------------


def test_state_dict_round_trips_through_json() -> None:
    tracker = _tracker(smoothing=1.0)
    tracker.feed(_stream((2, 0.1), (3, 0.9), (1, 0.2)))
    data = json.loads(json.dumps(tracker.state.to_dict()))
    assert TrackerState.from_dict(data) == tracker.state
    assert TrackerState.from_dict(None) == TrackerState() == TrackerState.from_dict({})


def _random_stream(rng: random.Random, seconds: float = 180.0) -> list[ScoredFrame]:
    frames: list[ScoredFrame] = []
    t, offset = T0, 0
    while t < T0 + seconds:
        high = rng.random() < 0.4
        level = rng.uniform(0.7, 1.0) if high else rng.uniform(0.0, 0.5)
        end = t + rng.uniform(0.2, 9.0)
        while t < end:
            if rng.random() < 0.05:
                score = math.nan
            else:
                score = min(max(level + rng.gauss(0, 0.08), 0.0), 1.0)
            frames.append(ScoredFrame(round(t, 6), score, offset))
            offset += rng.choice((1, 1, 1, 2))  # pruned frames leave offset gaps
            t += rng.uniform(0.05, 0.2)
    return frames


def _random_split(rng: random.Random, frames: list, n_cuts: int) -> list[list]:
    cuts = sorted(rng.sample(range(1, len(frames)), n_cuts))
    bounds = [0, *cuts, len(frames)]
    return [frames[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _feed_resumed(config: IncidentConfig, threshold: float, windows) -> tuple[list, dict]:
    """Feed each window to a fresh tracker built from the previous window's persisted state."""
    per_window, data = [], None
    for window in windows:
        tracker = IncidentTracker(config, threshold, TrackerState.from_dict(data))
        per_window.append(tracker.feed(window))
        data = json.loads(json.dumps(tracker.state.to_dict()))
    return per_window, data


def _lifecycle(events: list[IncidentEvent]) -> list[IncidentEvent]:
    return [e for e in events if e.kind != "updated"]


@pytest.mark.parametrize("seed", range(6))
def test_resuming_from_persisted_state_gives_identical_events_for_any_split(seed: int) -> None:
    rng = random.Random(seed)
    config = _config(
        smoothing=rng.choice((0.0, 0.5, 1.0)),
        min_duration=rng.choice((0.0, 1.0)),
        cooldown=rng.choice((0.5, 2.0, 5.0)),
    )
    frames = _random_stream(rng)
    whole = IncidentTracker(config, 0.6).feed(frames)
    assert any(e.kind == "closed" for e in whole)  # the stream does exercise the machine
    reference = _lifecycle(whole)
    for n_cuts in (1, 2, 7, 40, len(frames) // 3, len(frames) - 1):
        windows = _random_split(rng, frames, n_cuts)
        continuous = IncidentTracker(config, 0.6)
        expected = [continuous.feed(w) for w in windows]
        resumed, final = _feed_resumed(config, 0.6, windows)
        # 1. Persisting and reloading the state between windows changes nothing at all.
        assert resumed == expected
        assert TrackerState.from_dict(final) == continuous.state
        # 2. Opening and closing do not depend on where the windows were cut.
        flat = [e for events in resumed for e in events]
        assert _lifecycle(flat) == reference
        # 3. 'updated' only ever raises the peak of the open incident.
        peak = None
        for e in flat:
            if e.kind == "opened":
                peak = e.peak_score
            elif e.kind == "updated":
                assert peak is not None and e.peak_score > peak
                peak = e.peak_score
            else:
                assert peak is not None and e.peak_score >= peak
                peak = None


def test_whole_stream_state_equals_state_after_any_split() -> None:
    rng = random.Random(42)
    frames = _random_stream(rng, 60.0)
    whole = _tracker(smoothing=1.0)
    whole.feed(frames)
    for _ in range(5):
        _, final = _feed_resumed(_config(smoothing=1.0), 0.6, _random_split(rng, frames, 9))
        assert final == whole.state.to_dict()
