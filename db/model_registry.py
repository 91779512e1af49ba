"""The normality model registry (`normality_models`): each row a version of a camera's stage-1
models; workers score with the newest one not retired.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.models import NormalityModelRecord


def latest_model(session: Session, camera_id: int) -> NormalityModelRecord | None:
    """The version workers score with: the newest one not retired (undone)."""
    return session.scalar(
        select(NormalityModelRecord)
        .where(
            NormalityModelRecord.camera_id == camera_id,
            NormalityModelRecord.retired_at.is_(None),
        )
        .order_by(NormalityModelRecord.version.desc())
        .limit(1)
    )


def next_model_version(session: Session, camera_id: int) -> int:
    """The version a new model of this camera gets; holds a lock until the transaction ends, so
    two concurrent `learn` runs cannot take the same number."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 900000 + camera_id})
    current = session.scalar(
        select(func.max(NormalityModelRecord.version)).where(
            NormalityModelRecord.camera_id == camera_id
        )
    )
    return (current or 0) + 1


def register_model(
    session: Session,
    camera_id: int,
    version: int,
    path: str,
    frames: int,
    source: str,
    info: dict,
    parent_id: int | None = None,
    learned_from: dict | None = None,
) -> NormalityModelRecord:
    """A new model version; `parent_id` and `learned_from` say what it was made from (a refit's
    footage, or an incremental update's parent version, incidents and frame ranges)."""
    record = NormalityModelRecord(
        camera_id=camera_id,
        version=version,
        path=path,
        frames=frames,
        source=source,
        info=info,
        parent_id=parent_id,
        learned_from=learned_from,
    )
    session.add(record)
    session.flush()
    return record
