"""Gathering an incident's frames back from Kafka (the retained log is the video archive)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import FrameScore, Incident, Window
from vad.codec import decode_jpeg
from workers.kafka_log import FrameReader, WindowUnavailable


class ClipUnavailable(Exception):
    """The frames are gone from the log (retention) or were never kept."""


def incident_frames(
    session: Session, reader: FrameReader, incident: Incident, pad_seconds: float
) -> tuple[list[np.ndarray], float]:
    """Decoded frames from `pad_seconds` before the incident to `pad_seconds` after it, in capture
    order, and their mean frame rate."""
    start = incident.started_at - timedelta(seconds=pad_seconds)
    end = (incident.ended_at or incident.updated_at) + timedelta(seconds=pad_seconds)
    rows = session.execute(
        select(Window.topic, Window.partition, FrameScore.kafka_offset, FrameScore.captured_at)
        .join(Window, Window.id == FrameScore.window_id)
        .where(
            FrameScore.camera_id == incident.camera_id,
            FrameScore.captured_at.between(start, end),
            FrameScore.error.is_(None),
        )
        .order_by(FrameScore.captured_at)
    ).all()
    if not rows:
        raise ClipUnavailable(f"no scored frames between {start} and {end}")
    by_log: dict[tuple[str, int], list[int]] = defaultdict(list)
    for topic, partition, offset, _ in rows:
        by_log[(topic, partition)].append(offset)
    images: dict[tuple[str, int, int], np.ndarray] = {}
    for (topic, partition), offsets in by_log.items():
        try:
            records = reader.read_range(topic, partition, min(offsets), max(offsets))
        except WindowUnavailable as gone:
            raise ClipUnavailable(str(gone)) from None
        wanted = set(offsets)
        for record in records:
            if record.offset in wanted and (image := decode_jpeg(record.value)) is not None:
                images[(topic, partition, record.offset)] = image
    frames = [images[(t, p, o)] for t, p, o, _ in rows if (t, p, o) in images]
    if not frames:
        raise ClipUnavailable("the incident's frames could not be read back")
    span = (rows[-1][3] - rows[0][3]).total_seconds()
    fps = (len(rows) - 1) / span if span > 0 else 10.0
    return frames, max(1.0, min(fps, 60.0))
