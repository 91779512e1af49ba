"""Gathering an incident's frames back from Kafka for clip export (the retained log is the video
archive).

Bounded work per request: the clip spans at most `max_seconds` (around the incident's peak when
the incident plus padding is longer), only this camera's wanted records are decoded
(`frames.window.read_window_frames` skips the others undecoded), and every decoded frame goes
straight to the encoder, so memory does not grow with the clip's length. Each export reads with
its own Kafka consumer: KafkaConsumer is not thread-safe and the API serves requests on threads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from db.clip_queries import scored_frames_between
from db.models import Incident
from frames.reader import FrameReader, WindowUnavailable
from frames.window import read_window_frames
from vad.clips import ClipFile


class ClipUnavailable(Exception):
    """The frames are gone from the log (retention) or were never kept."""


@dataclass(frozen=True)
class ClipPlan:
    """Which records make the clip: per log (topic, partition) the wanted offsets, in order."""

    camera_id: int
    logs: list[tuple[str, int, list[int]]]
    fps: float
    start: datetime
    end: datetime
    truncated: bool


def plan_clip(
    session: Session, incident: Incident, pad_seconds: float, max_seconds: float
) -> ClipPlan:
    """The incident ±pad_seconds, cut to `max_seconds` centred on its peak when longer."""
    start = incident.started_at - timedelta(seconds=pad_seconds)
    end = (incident.ended_at or incident.updated_at) + timedelta(seconds=pad_seconds)
    truncated = (end - start).total_seconds() > max_seconds
    if truncated:
        half = timedelta(seconds=max_seconds / 2)
        centre = min(max(incident.peak_at, start + half), end - half)
        start, end = centre - half, centre + half
    rows = scored_frames_between(session, incident.camera_id, start, end)
    if not rows:
        raise ClipUnavailable(f"no scored frames between {start} and {end}")
    by_log: dict[tuple[str, int], list[int]] = defaultdict(list)
    first_seen: dict[tuple[str, int], datetime] = {}
    for topic, partition, offset, captured in rows:
        by_log[(topic, partition)].append(offset)
        first_seen.setdefault((topic, partition), captured)
    logs = [(t, p, sorted(by_log[(t, p)])) for t, p in sorted(by_log, key=first_seen.get)]
    span = (rows[-1][3] - rows[0][3]).total_seconds()
    fps = (len(rows) - 1) / span if span > 0 else 10.0
    return ClipPlan(incident.camera_id, logs, max(1.0, min(fps, 60.0)), start, end, truncated)


def write_clip(plan: ClipPlan, bootstrap: str, clip: ClipFile, timeout: float = 15.0) -> int:
    """Decode the plan's frames into `clip` with a consumer of its own; the frame count.
    Raises ClipUnavailable (frames gone), TimeoutError (the log did not answer in time)."""
    reader = FrameReader(bootstrap)
    try:
        for topic, partition, offsets in plan.logs:
            first, last = offsets[0], offsets[-1]
            logged = read_window_frames(
                reader, topic, partition, first, last, plan.camera_id, set(offsets), timeout
            )
            try:
                for frame in (f.frame for f in logged if f.frame.ok):
                    clip.write(frame.image)
            except WindowUnavailable as gone:
                raise ClipUnavailable(str(gone)) from None
    finally:
        reader.close()
    if clip.frames == 0:
        raise ClipUnavailable("the incident's frames could not be read back")
    return clip.frames
