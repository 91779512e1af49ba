"""A scorer's per-camera state (`scorer_states`: e.g. the motion baseline), written in the window's
transaction.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import ScorerState


def load_scorer_state(session: Session, camera_id: int, scorer: str) -> dict | None:
    row = session.get(ScorerState, (camera_id, scorer))
    return dict(row.state) if row is not None else None


def save_scorer_state(session: Session, camera_id: int, scorer: str, state: dict) -> None:
    stmt = insert(ScorerState).values(camera_id=camera_id, scorer=scorer, state=state)
    session.execute(
        stmt.on_conflict_do_update(index_elements=["camera_id", "scorer"], set_={"state": state})
    )
