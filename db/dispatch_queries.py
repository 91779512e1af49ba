"""The dispatcher's positions in the frames log (`dispatch_progress`), saved in the same
transaction as the windows they produce.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import DispatchProgress


def load_progress(session: Session, topic_id: str, partition: int) -> DispatchProgress | None:
    return session.get(DispatchProgress, (topic_id, partition))


def save_progress(
    session: Session,
    topic: str,
    topic_id: str,
    partition: int,
    position: int,
    camera_last: dict,
    camera_context: dict,
) -> None:
    stmt = insert(DispatchProgress).values(
        topic=topic,
        topic_id=topic_id,
        partition=partition,
        position=position,
        camera_last=camera_last,
        camera_context=camera_context,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["topic_id", "partition"],
            set_={
                "position": position,
                "camera_last": camera_last,
                "camera_context": camera_context,
            },
        )
    )
