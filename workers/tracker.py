"""Advancing a camera's incident state machine over its scored windows, strictly in order.

Windows finish out of order on many workers; whichever worker finishes a window then walks the
camera's windows from the tracker's cursor while they are finished, under the tracker row's lock.
So incidents come out the same whatever the interleaving, and a window retried after its scores
were written never feeds the tracker twice (the cursor already moved past it).

Nothing slow runs under that lock: the key frame of a new peak is only named here
(`KeyFrameWanted`) and read from Kafka after the commit (`store_key_frames`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from db import clock, tracker_queries, window_queries
from db.models import Incident, Window
from db.session import transaction
from vad.incidents import IncidentConfig, IncidentEvent, IncidentTracker, ScoredFrame, TrackerState
from vad.stage2.weight import follow_peak

log = logging.getLogger(__name__)

EventSink = Callable[[str, Incident], None]


@dataclass(frozen=True, slots=True)
class KeyFrameWanted:
    """An incident whose peak moved: its key frame is the record at `offset` of the log."""

    incident_id: int
    camera_id: int
    topic: str
    partition: int
    offset: int


@dataclass
class Advanced:
    """What one tracker step did: windows consumed, key frames to read once it has committed."""

    consumed: int = 0
    key_frames: list[KeyFrameWanted] = field(default_factory=list)


def advance_tracker(
    session: Session,
    camera_id: int,
    threshold: float,
    config: IncidentConfig,
    on_event: EventSink | None = None,
) -> Advanced:
    """Feed every finished window from the cursor on, under the tracker row's lock."""
    row = tracker_queries.lock_tracker(session, camera_id)
    state = dict(row.state or {})
    tracker = IncidentTracker(config, threshold, TrackerState.from_dict(state.get("tracker")))
    incident_id: int | None = state.get("incident_id")
    advanced = Advanced()
    while True:
        window = window_queries.window_by_seq(session, camera_id, row.next_seq)
        if window is None or window.status not in ("done", "failed"):
            break
        if window.status == "done":
            frames = [
                ScoredFrame(s.captured_at.timestamp(), _score(s.score), s.kafka_offset)
                for s in window_queries.window_scores(session, window.id)
            ]
            events = tracker.feed(frames)
            if window.end_of_stream:
                events += tracker.end_stream()
            for event in events:
                incident = _apply_event(
                    session, camera_id, window, event, incident_id, tracker, advanced.key_frames
                )
                incident_id = incident.id if event.kind != "closed" else None
                if on_event:
                    on_event(f"incident.{event.kind}", incident)
        row.next_seq += 1
        advanced.consumed += 1
    row.state = {"tracker": tracker.state.to_dict(), "incident_id": incident_id}
    return advanced


def store_key_frames(
    sessions: sessionmaker[Session],
    wanted: list[KeyFrameWanted],
    read: Callable[[KeyFrameWanted], bytes | None],
) -> None:
    """Read each wanted key frame (outside any transaction), then store it if the incident's
    peak is still that frame: a later peak stored by another worker is never overwritten."""
    latest = {w.incident_id: w for w in wanted}  # one incident's later peak wins
    for want in latest.values():
        jpeg = read(want)
        with transaction(sessions) as session:
            incident = session.get(Incident, want.incident_id, with_for_update=True)
            if incident is not None and incident.peak_offset == want.offset:
                incident.key_frame = jpeg


def _score(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _apply_event(
    session: Session,
    camera_id: int,
    window: Window,
    event: IncidentEvent,
    incident_id: int | None,
    tracker: IncidentTracker,
    key_frames: list[KeyFrameWanted],
) -> Incident:
    # locked and re-read: the stage-2 worker writes this incident's fused score from its peak
    incident = (
        session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
        if incident_id is not None
        else None
    )
    if incident is None:
        incident = Incident(
            camera_id=camera_id,
            status="open",
            started_at=clock.utc(event.started_at),
            threshold=tracker.threshold,
            scorer=window.scorer,
            rule=(
                f"{window.scorer} score smoothed over {tracker.config.smoothing_seconds:g}s "
                f">= {tracker.threshold:g} for {tracker.config.min_duration_seconds:g}s"
            ),
            first_window_seq=window.seq,
            last_window_seq=window.seq,
            peak_score=event.peak_score,
            peak_at=clock.utc(event.peak_at),
        )
        session.add(incident)
    new_peak = incident.peak_offset != event.peak_offset
    incident.fused_score = follow_peak(incident.fused_score, incident.peak_score, event.peak_score)
    incident.peak_score = event.peak_score
    incident.peak_at = clock.utc(event.peak_at)
    incident.peak_offset = event.peak_offset
    incident.last_window_seq = window.seq
    incident.updated_at = clock.now_utc()
    if event.kind == "closed":
        incident.status = "closed"
        incident.ended_at = clock.utc(event.ended_at or event.peak_at)
    session.flush()
    if new_peak:
        key_frames.append(
            KeyFrameWanted(
                incident.id, camera_id, window.topic, window.partition, event.peak_offset
            )
        )
    log.info(
        "incident %s %s on camera %s (peak %.2f)",
        incident.id,
        event.kind,
        camera_id,
        event.peak_score,
    )
    return incident
