"""The per-camera incident tracker row, locked so one process at a time advances a camera's
incidents in window order.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import CameraTracker


def lock_tracker(session: Session, camera_id: int) -> CameraTracker:
    """The camera's tracker row, locked for this transaction (created on first use)."""
    session.execute(
        insert(CameraTracker)
        .values(camera_id=camera_id, next_seq=0, state={})
        .on_conflict_do_nothing(index_elements=["camera_id"])
    )
    return session.get(CameraTracker, camera_id, with_for_update=True, populate_existing=True)
