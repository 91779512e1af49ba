"""Scheduled relearning and the choice of stored windows (issue 20)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from feedback.stored_footage import spread
from service.commands.incidents import parse_duration
from service.relearn import relearn_due
from service.supervisor import relearn_command

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_camera_relearns_when_its_newest_model_is_as_old_as_its_schedule() -> None:
    assert relearn_due(24, None, NOW)  # no model yet
    assert not relearn_due(24, NOW - timedelta(hours=23), NOW)
    assert relearn_due(24, NOW - timedelta(hours=24), NOW)
    assert relearn_due(0.5, NOW - timedelta(minutes=31), NOW)


def test_the_scheduled_command_learns_from_the_same_period() -> None:
    assert relearn_command("gate", 24.0)[-4:] == ["learn", "gate", "--recent", "24h"]
    assert relearn_command("gate", 1.5)[-1] == "1.5h"


def test_durations() -> None:
    assert parse_duration("24h") == timedelta(hours=24)
    assert parse_duration(" 90m ") == timedelta(minutes=90)
    assert parse_duration("2026-01-01") is None


def _windows(n: int, frames: int = 20) -> list:
    return [SimpleNamespace(seq=i, n_frames=frames) for i in range(n)]


def test_recent_footage_is_read_whole_when_it_fits_and_spread_evenly_when_not() -> None:
    windows = _windows(10)
    chosen, joined = spread(windows, 200)
    assert chosen == windows and joined
    chosen, joined = spread(_windows(100), 500)  # 2,000 frames for 500
    assert not joined and [w.seq for w in chosen] == list(range(0, 100, 4))
    assert sum(w.n_frames for w in chosen) <= 500
