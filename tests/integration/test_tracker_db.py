"""The incident tracker over real PostgreSQL (no broker, no worker): windows finished out of
order feed it strictly in sequence, failed windows are passed over, a repeated call changes
nothing, and the key frame is fetched for the incident's peak frame."""

from __future__ import annotations

import pytest

from db import camera_queries, clock, window_queries
from db.models import Incident
from db.session import transaction
from vad.incidents import IncidentConfig
from workers.tracker import advance_tracker, store_key_frames

pytestmark = pytest.mark.integration

T0 = 1_767_225_600.0
CONFIG = IncidentConfig(smoothing_seconds=0, min_duration_seconds=0, cooldown_seconds=0.5)
THRESHOLD = 0.5


def _camera_with_windows(sessions, count: int, frames_per_window: int = 5) -> tuple[int, list]:
    with transaction(sessions) as session:
        camera = camera_queries.add_camera(session, "gate", "rtsp://10.0.0.1/a", None, False)
        ids = []
        for w in range(count):
            first = w * frames_per_window
            window = window_queries.insert_window(
                session,
                camera_id=camera.id,
                topic="frames",
                topic_id="log-1",
                partition=0,
                first_offset=first,
                last_offset=first + frames_per_window - 1,
                context_offset=None,
                n_frames=frames_per_window,
                start_at=T0 + first / 10,
                end_at=T0 + (first + frames_per_window - 1) / 10,
                end_of_stream=w == count - 1,
            )
            ids.append((window.id, first))
        return camera.id, ids


def _finish(sessions, window: tuple[int, int], scores: list[float]) -> None:
    window_id, first = window
    rows = [
        {
            "kafka_offset": first + i,
            "frame_index": first + i,
            "captured_at": clock.utc(T0 + (first + i) / 10),
            "ingested_at": clock.utc(T0 + (first + i) / 10),
            "score": score,
            "raw": score,
            "error": None,
        }
        for i, score in enumerate(scores)
    ]
    with transaction(sessions) as session:
        window_queries.start_window(session, window_id)
        assert window_queries.finish_window(session, window_id, rows, "motion", None)


def test_out_of_order_windows_feed_the_tracker_in_sequence(db_sessions) -> None:
    sessions = db_sessions
    camera_id, windows = _camera_with_windows(sessions, 4)
    events: list[tuple[str, int]] = []
    fetched: list[int] = []

    def advance() -> int:
        with transaction(sessions) as session:
            advanced = advance_tracker(
                session,
                camera_id,
                THRESHOLD,
                CONFIG,
                lambda kind, incident: events.append((kind, incident.peak_offset)),
            )
        # the key frame is read after the tracker's transaction, never under its row lock
        fetched.extend(w.offset for w in advanced.key_frames)
        store_key_frames(sessions, advanced.key_frames, lambda wanted: b"jpeg")
        return advanced.consumed

    _finish(sessions, windows[1], [0.9, 0.95, 0.7, 0.6, 0.6])  # finishes first: must wait
    assert advance() == 0 and events == []
    _finish(sessions, windows[0], [0.1] * 5)
    assert advance() == 2  # windows 0 and 1, in that order
    assert events == [("incident.opened", 5), ("incident.updated", 6)]
    with transaction(sessions) as session:
        window_queries.fail_window(session, windows[2][0], "log mismatch")
    _finish(sessions, windows[3], [0.1] * 5)  # the last window: the stream ends
    assert advance() == 2  # the failed window is passed over, not waited for
    assert events[-1][0] == "incident.closed"
    assert advance() == 0 and len(events) == 3  # a repeated step emits nothing twice
    assert fetched == [5, 6]  # the key frame follows the peak, once per new peak

    with sessions() as session:
        [incident] = session.query(Incident).all()
        assert (incident.status, incident.peak_offset, incident.key_frame) == ("closed", 6, b"jpeg")
        assert incident.peak_score == pytest.approx(0.95)
        assert (incident.first_window_seq, incident.last_window_seq) == (1, 3)
        assert incident.rule.startswith("motion score") and f">= {THRESHOLD:g}" in incident.rule


def test_the_fused_score_follows_the_stage1_peak_when_it_rises_after_stage_2(db_sessions):
    """Stage 2 fused the incident (its raise: +0.2 over the peak); then stage 1's peak rises in a
    later window: the fused score moves with it instead of going stale below the new peak."""
    sessions = db_sessions
    camera_id, windows = _camera_with_windows(sessions, 3)

    def advance() -> None:
        with transaction(sessions) as session:
            advance_tracker(session, camera_id, THRESHOLD, CONFIG)

    def incident() -> Incident:
        with sessions() as session:
            [found] = session.query(Incident).all()
            return found

    _finish(sessions, windows[0], [0.1, 0.7, 0.6, 0.6, 0.6])
    advance()
    assert incident().fused_score is None  # stage 2 has not analysed it: stays NULL
    with transaction(sessions) as session:  # what the stage-2 worker's fuse_incident writes
        session.get(Incident, incident().id).fused_score = 0.7 + 0.2
    _finish(sessions, windows[1], [0.6, 0.95, 0.6, 0.6, 0.6])
    advance()
    risen = incident()
    assert risen.peak_score == pytest.approx(0.95)
    assert risen.fused_score == pytest.approx(0.95 + 0.2)
    _finish(sessions, windows[2], [0.6, 0.8, 0.6, 0.6, 0.6])  # lower: the peak stays
    advance()
    assert incident().fused_score == pytest.approx(0.95 + 0.2)
