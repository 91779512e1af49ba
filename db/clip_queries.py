"""Which retained frames make an incident's clip: the scored, decodable frames of a camera in a
time range, with where each lies in the log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import FrameScore, Window


def scored_frames_between(
    session: Session, camera_id: int, start: datetime, end: datetime
) -> list[tuple[str, int, int, datetime]]:
    """(topic, partition, offset, captured_at) of the camera's frames scored without error and
    captured between `start` and `end`, in capture order."""
    rows = session.execute(
        select(Window.topic, Window.partition, FrameScore.kafka_offset, FrameScore.captured_at)
        .join(Window, Window.id == FrameScore.window_id)
        .where(
            FrameScore.camera_id == camera_id,
            FrameScore.captured_at.between(start, end),
            FrameScore.error.is_(None),
        )
        .order_by(FrameScore.captured_at)
    ).all()
    return [tuple(row) for row in rows]
