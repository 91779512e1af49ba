"""The database side of `/metrics` and `/health`: counts by status, frames kept per camera,
window latency.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.api_models import WebhookAttempt, WebhookDelivery
from db.models import Camera, DispatchProgress, FrameScore, Incident, Window
from db.stage2 import counts as stage2_counts


def count_by(session: Session, column) -> dict[str, int]:
    return {k: int(n) for k, n in session.execute(select(column, func.count()).group_by(column))}


KEPT_FPS_WINDOW = timedelta(minutes=1)


LATENCY_WINDOW = timedelta(minutes=5)


def metrics_snapshot(session: Session) -> dict:
    """Everything /metrics reports, read in one short transaction."""
    return {
        "cameras": list(session.scalars(select(Camera).order_by(Camera.name))),
        "kept_recent": kept_recent(session, KEPT_FPS_WINDOW),
        "windows": count_by(session, Window.status),
        "incidents": count_by(session, Incident.status),
        "deliveries": count_by(session, WebhookDelivery.status),
        "attempt_failures": int(
            session.scalar(
                select(func.count()).select_from(WebhookAttempt).where(WebhookAttempt.ok.is_(False))
            )
            or 0
        ),
        "window_latency": window_latency(session, LATENCY_WINDOW),
        "stage2": stage2_counts(session),
        "window_queue_seconds": session.scalar(
            select(func.avg(func.extract("epoch", Window.scored_at - Window.enqueued_at))).where(
                Window.scored_at > func.now() - LATENCY_WINDOW
            )
        ),
        "dispatch_positions": [
            tuple(row)
            for row in session.execute(
                select(
                    DispatchProgress.topic,
                    DispatchProgress.topic_id,
                    DispatchProgress.partition,
                    DispatchProgress.position,
                ).order_by(DispatchProgress.topic, DispatchProgress.partition)
            )
        ],
    }


def kept_recent(session: Session, window: timedelta) -> dict[str, int]:
    """Camera name -> frames captured in the last `window` that have a frame score (kept and
    scored). One index range scan per camera on (camera_id, captured_at)."""
    recent = (
        select(func.count())
        .select_from(FrameScore)
        .where(FrameScore.camera_id == Camera.id, FrameScore.captured_at >= func.now() - window)
        .correlate(Camera)
        .scalar_subquery()
    )
    return {name: int(n) for name, n in session.execute(select(Camera.name, recent))}


def window_latency(session: Session, window: timedelta) -> dict | None:
    """p50/p95/mean/count of capture-to-scored time (scored_at - end_at: from the window's last
    frame being captured to its scores being stored) of windows scored in the last `window`."""
    seconds = func.extract("epoch", Window.scored_at - Window.end_at)
    row = session.execute(
        select(
            func.percentile_cont(0.5).within_group(seconds),
            func.percentile_cont(0.95).within_group(seconds),
            func.avg(seconds),
            func.count(),
        ).where(Window.status == "done", Window.scored_at > func.now() - window)
    ).one()
    if not row[3]:
        return None
    return {"p50": float(row[0]), "p95": float(row[1]), "mean": float(row[2]), "count": row[3]}
