"""Advancing a camera's incident state machine over its scored windows, strictly in order.

Windows finish out of order on many workers; whichever worker finishes a window then walks the
camera's windows from the tracker's cursor while they are finished, under the tracker row's lock.
So incidents come out the same whatever the interleaving, and a window retried after its scores
were written never feeds the tracker twice (the cursor already moved past it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from sqlalchemy.orm import Session

from db import queries
from db.models import Incident, Window
from vad.config import IncidentConfig
from vad.incidents import IncidentEvent, IncidentTracker, ScoredFrame, TrackerState

log = logging.getLogger(__name__)

KeyFrameFetcher = Callable[[Window, int], bytes | None]
EventSink = Callable[[str, Incident], None]


def advance_tracker(
    session: Session,
    camera_id: int,
    threshold: float,
    config: IncidentConfig,
    fetch_key_frame: KeyFrameFetcher,
    on_event: EventSink | None = None,
) -> int:
    """Feed every finished window from the cursor on; returns how many windows were consumed."""
    row = queries.lock_tracker(session, camera_id)
    state = dict(row.state or {})
    tracker = IncidentTracker(config, threshold, TrackerState.from_dict(state.get("tracker")))
    incident_id: int | None = state.get("incident_id")
    consumed = 0
    while True:
        window = queries.window_by_seq(session, camera_id, row.next_seq)
        if window is None or window.status not in ("done", "failed"):
            break
        if window.status == "done":
            frames = [
                ScoredFrame(s.captured_at.timestamp(), _score(s.score), s.kafka_offset)
                for s in queries.window_scores(session, window.id)
            ]
            events = tracker.feed(frames)
            if window.end_of_stream:
                events += tracker.end_stream()
            for event in events:
                incident = _apply_event(
                    session, camera_id, window, event, incident_id, tracker, fetch_key_frame
                )
                incident_id = incident.id if event.kind != "closed" else None
                if on_event:
                    on_event(f"incident.{event.kind}", incident)
        row.next_seq += 1
        consumed += 1
    row.state = {"tracker": tracker.state.to_dict(), "incident_id": incident_id}
    return consumed


def _score(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _apply_event(
    session: Session,
    camera_id: int,
    window: Window,
    event: IncidentEvent,
    incident_id: int | None,
    tracker: IncidentTracker,
    fetch_key_frame: KeyFrameFetcher,
) -> Incident:
    incident = session.get(Incident, incident_id) if incident_id is not None else None
    if incident is None:
        incident = Incident(
            camera_id=camera_id,
            status="open",
            started_at=queries.utc(event.started_at),
            threshold=tracker.threshold,
            scorer=window.scorer,
            rule=(
                f"{window.scorer} score smoothed over {tracker.config.smoothing_seconds:g}s "
                f">= {tracker.threshold:g} for {tracker.config.min_duration_seconds:g}s"
            ),
            first_window_seq=window.seq,
            last_window_seq=window.seq,
            peak_score=event.peak_score,
            peak_at=queries.utc(event.peak_at),
        )
        session.add(incident)
    if incident.peak_offset != event.peak_offset:
        incident.key_frame = fetch_key_frame(window, event.peak_offset)
    incident.peak_score = event.peak_score
    incident.peak_at = queries.utc(event.peak_at)
    incident.peak_offset = event.peak_offset
    incident.last_window_seq = window.seq
    incident.updated_at = queries.now_utc()
    if event.kind == "closed":
        incident.status = "closed"
        incident.ended_at = queries.utc(event.ended_at or event.peak_at)
    session.flush()
    log.info(
        "incident %s %s on camera %s (peak %.2f)",
        incident.id,
        event.kind,
        camera_id,
        event.peak_score,
    )
    return incident
