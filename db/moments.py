"""The queries of moment search (`api/moments.py` grounds the query in what they return): the
registered CLIP model whose frame embeddings the workers stored, the cameras searched, and the
incident a moment overlaps (for its id and key frame).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Camera, Incident


def clip_model_id(session: Session, name: str, dim: int) -> int | None:
    """The registered id of the CLIP model whose embeddings the workers stored, if any."""
    try:
        from db.embeddings import EncoderModelRecord
    except ImportError:  # frame embeddings not part of this installation
        return None
    return session.scalar(
        select(EncoderModelRecord.id).where(
            EncoderModelRecord.name == name, EncoderModelRecord.dim == dim
        )
    )


def overlapping_incident(
    session: Session, camera_id: int, start: datetime, end: datetime
) -> tuple[int, bool] | None:
    row = session.execute(
        select(Incident.id, Incident.key_frame.is_not(None))
        .where(
            Incident.camera_id == camera_id,
            Incident.started_at <= end,
            func.coalesce(Incident.ended_at, func.now()) >= start,
        )
        .order_by(Incident.peak_score.desc())
        .limit(1)
    ).first()
    return (int(row[0]), bool(row[1])) if row else None


def searched_cameras(session: Session, camera: str | None) -> Iterator[Camera]:
    """Every camera by name, or only the one called `camera` (a search's camera filter)."""
    cameras = select(Camera).order_by(Camera.name)
    if camera:
        cameras = cameras.where(Camera.name == camera)
    return iter(session.scalars(cameras))
