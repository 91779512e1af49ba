"""Ctrl-C's drain says how many windows are left a handful of times, not at every poll."""

from __future__ import annotations

from service.supervisor import drain_note_due


def test_first_note_at_once():
    assert drain_note_due(None, 100.0)


def test_next_note_only_after_the_interval():
    assert not drain_note_due(100.0, 100.5)
    assert not drain_note_due(100.0, 104.9)
    assert drain_note_due(100.0, 105.0)


def test_a_thirty_second_drain_polled_twice_a_second_notes_six_times():
    noted_at, notes = None, 0
    for tick in range(60):
        now = tick * 0.5
        if drain_note_due(noted_at, now):
            noted_at, notes = now, notes + 1
    assert notes == 6
