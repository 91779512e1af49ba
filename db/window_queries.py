"""Windows: created by the dispatcher, requeued by its reaper, started, finished or failed by the
workers (a window's scores + its status + the scorer state commit or roll back as one: each
query leaves transaction boundaries to the caller).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.clock import now_utc, utc
from db.models import Camera, FrameScore, Window
from db.scorer_state_queries import save_scorer_state


def insert_window(
    session: Session,
    *,
    camera_id: int,
    topic: str,
    topic_id: str,
    partition: int,
    first_offset: int,
    last_offset: int,
    context_offset: int | None,
    n_frames: int,
    start_at: float,
    end_at: float,
    end_of_stream: bool = False,
    ahead_offset: int | None = None,
) -> Window | None:
    """Insert a window with the camera's next sequence number; None if it exists or the camera
    was removed meanwhile. `ahead_offset`: the last look-ahead frame its scores wait for."""
    seq = session.execute(
        update(Camera)
        .where(Camera.id == camera_id)
        .values(next_window_seq=Camera.next_window_seq + 1)
        .returning(Camera.next_window_seq)
    ).scalar()
    if seq is None:
        return None
    stmt = (
        insert(Window)
        .values(
            camera_id=camera_id,
            seq=seq - 1,
            topic=topic,
            topic_id=topic_id,
            partition=partition,
            first_offset=first_offset,
            last_offset=last_offset,
            context_offset=context_offset,
            ahead_offset=ahead_offset,
            n_frames=n_frames,
            start_at=utc(start_at),
            end_at=utc(end_at),
            status="queued",
            attempts=0,
            end_of_stream=end_of_stream,
        )
        .on_conflict_do_nothing(constraint="uq_window_natural")
        .returning(Window.id)
    )
    window_id = session.execute(stmt).scalar()
    return session.get(Window, window_id) if window_id is not None else None


def stale_windows(
    session: Session, older_than: datetime, include_queued: bool, limit: int = 200
) -> list[Window]:
    """Windows that look lost: started long ago and never finished (worker died), or, when the
    task queue is empty, queued long ago (message lost)."""
    states = ["running", "queued"] if include_queued else ["running"]
    stamp = func.coalesce(Window.started_at, Window.enqueued_at)
    return list(
        session.scalars(
            select(Window)
            .where(Window.status.in_(states), stamp < older_than)
            .order_by(Window.id)
            .limit(limit)
        )
    )


def mark_requeued(session: Session, window_ids: Sequence[int]) -> None:
    session.execute(
        update(Window)
        .where(Window.id.in_(window_ids), Window.status.in_(["queued", "running"]))
        .values(status="queued", enqueued_at=now_utc(), started_at=None)
    )


def start_window(session: Session, window_id: int) -> Window | None:
    """Claim a window for scoring; None when it is already finished or gone."""
    window = session.get(Window, window_id, with_for_update=True)
    if window is None or window.status in ("done", "failed"):
        return None
    window.status = "running"
    window.started_at = now_utc()
    window.attempts += 1
    return window


def finish_window(
    session: Session,
    window_id: int,
    rows: list[dict],
    scorer: str,
    scorer_state: dict | None,
) -> bool:
    """Write a window's frame scores and mark it done, exactly once. False if already done."""
    window = session.get(Window, window_id, with_for_update=True)
    if window is None or window.status in ("done", "failed"):
        return False
    if rows:
        session.execute(
            insert(FrameScore).on_conflict_do_nothing(constraint="uq_frame_score"),
            [{**row, "window_id": window_id, "camera_id": window.camera_id} for row in rows],
        )
    window.status, window.scorer, window.scored_at, window.error = "done", scorer, now_utc(), None
    if scorer_state is not None:
        save_scorer_state(session, window.camera_id, scorer, scorer_state)
    return True


def fired_at(session: Session, camera_id: int, kafka_offset: int) -> str | None:
    """Which model decided a camera's frame score (`frame_scores.fired`, latest row)."""
    return session.scalar(
        select(FrameScore.fired)
        .where(FrameScore.camera_id == camera_id, FrameScore.kafka_offset == kafka_offset)
        .order_by(FrameScore.id.desc())
        .limit(1)
    )


def fail_window(session: Session, window_id: int, error: str) -> None:
    session.execute(
        update(Window)
        .where(Window.id == window_id, Window.status.in_(["queued", "running"]))
        .values(status="failed", error=error[:2000], scored_at=now_utc())
    )


def note_window_error(session: Session, window_id: int, error: str) -> None:
    session.execute(
        update(Window)
        .where(Window.id == window_id, Window.status.in_(["queued", "running"]))
        .values(status="queued", error=error[:2000])
    )


def window_by_seq(session: Session, camera_id: int, seq: int) -> Window | None:
    return session.scalar(select(Window).where(Window.camera_id == camera_id, Window.seq == seq))


def window_scores(session: Session, window_id: int) -> list[FrameScore]:
    return list(
        session.scalars(
            select(FrameScore)
            .where(FrameScore.window_id == window_id)
            .order_by(FrameScore.kafka_offset)
        )
    )
