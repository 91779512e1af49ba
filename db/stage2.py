"""Stage-2 analyses: the table and the queries the stage-1 hook, the stage-2 worker, the CLI and
the metrics share.

One row per analysed window (unique on the window), written as `pending` in the same transaction
as the incident event that asked for it (an outbox: the Celery message is sent after the commit,
and a sweeper re-sends rows whose message was lost). The incident carries the fused result
(`incidents.fused_score`, `incidents.explanation`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.clock import now_utc
from db.models import Base, Incident, Window

JsonDoc = JSON().with_variant(JSONB(), "postgresql")
OPEN_STATES = ("pending", "running")
# score_source of a window whose rating was not asked for: its LLM has fusion weight 0 on the
# camera (explanations only), so the rating would change nothing (docs/stage2.md)
NOT_RATED = "not rated"
FINAL_STATES = ("done", "skipped", "failed")


class Stage2Analysis(Base):
    """Everything stage 2 produced for one window, and what it was produced with."""

    __tablename__ = "stage2_analyses"
    __table_args__ = (
        UniqueConstraint("window_id", name="uq_stage2_window"),
        Index("ix_stage2_camera_time", "camera_id", "window_start_at"),
        Index("ix_stage2_incident", "incident_id"),
        Index("ix_stage2_status_requested", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id", ondelete="CASCADE"))
    window_start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trigger: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    frame_offsets: Mapped[list | None] = mapped_column(JsonDoc)
    frame_indices: Mapped[list | None] = mapped_column(JsonDoc)
    frame_times: Mapped[list | None] = mapped_column(JsonDoc)
    captions_raw: Mapped[list | None] = mapped_column(JsonDoc)
    captions_clean: Mapped[list | None] = mapped_column(JsonDoc)
    cleaning: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answer_error: Mapped[str | None] = mapped_column(Text)
    llm_score: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    score_source: Mapped[str | None] = mapped_column(String(12))
    refined_score: Mapped[float | None] = mapped_column(Float)
    refined_from: Mapped[list | None] = mapped_column(JsonDoc)
    explanation: Mapped[str | None] = mapped_column(Text)
    stage1_peak: Mapped[float | None] = mapped_column(Float)
    fused_score: Mapped[float | None] = mapped_column(Float)
    embedding: Mapped[list | None] = mapped_column(JsonDoc)
    embedding_kind: Mapped[str | None] = mapped_column(String(120))
    captioner: Mapped[str | None] = mapped_column(String(200))
    llm: Mapped[str | None] = mapped_column(String(200))
    encoder: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(40))
    context: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    stage_seconds: Mapped[dict | None] = mapped_column(JsonDoc)


# --- requests (stage-1 side, inside the tracker transaction) ------------------------------------


def request_analysis(
    session: Session, incident: Incident, trigger: str, max_per_incident: int
) -> int | None:
    """Ask for the analysis of the window where `incident` just opened or peaked; returns the new
    row's id to send, or None (already requested, window gone, or over the incident's cap, which
    is recorded as skipped so it is counted)."""
    window = session.scalar(
        select(Window).where(
            Window.camera_id == incident.camera_id, Window.seq == incident.last_window_seq
        )
    )
    if window is None:
        return None
    taken = session.scalar(
        select(func.count())
        .select_from(Stage2Analysis)
        .where(Stage2Analysis.incident_id == incident.id, Stage2Analysis.status != "skipped")
    )
    over_cap = taken >= max_per_incident
    row_id = session.execute(
        insert(Stage2Analysis)
        .values(
            camera_id=incident.camera_id,
            incident_id=incident.id,
            window_id=window.id,
            window_start_at=window.start_at,
            trigger=trigger,
            status="skipped" if over_cap else "pending",
            reason=f"incident cap: {max_per_incident} windows already analysed"
            if over_cap
            else None,
            attempts=0,
            stage1_peak=incident.peak_score,
        )
        .on_conflict_do_nothing(constraint="uq_stage2_window")
        .returning(Stage2Analysis.id)
    ).scalar()
    return None if over_cap else row_id


# --- the stage-2 worker -----------------------------------------------------------------------


def claim(session: Session, analysis_id: int, lease_seconds: float) -> Stage2Analysis | None:
    """Lock and mark running; None when it is finished, gone, or another worker started it less
    than `lease_seconds` ago (a duplicate message: the sweeper re-sends only after the lease)."""
    row = session.get(Stage2Analysis, analysis_id, with_for_update=True)
    if row is None or row.status in FINAL_STATES:
        return None
    leased = row.started_at is not None and row.status == "running"
    if leased and (now_utc() - row.started_at).total_seconds() < lease_seconds:
        return None
    row.status, row.started_at = "running", now_utc()
    row.attempts += 1
    return row


def finish(session: Session, analysis_id: int, status: str, reason: str | None) -> None:
    """Mark skipped or failed (only while still open: a finished analysis stays as it is)."""
    session.execute(
        update(Stage2Analysis)
        .where(Stage2Analysis.id == analysis_id, Stage2Analysis.status.in_(OPEN_STATES))
        .values(status=status, reason=(reason or "")[:2000], finished_at=now_utc())
    )


def neighbour_captions(session: Session, camera_id: int, before: datetime, n: int) -> list[str]:
    """Raw captions of the camera's last `n` analysed windows before `before` (the cleaning
    pool's neighbours)."""
    if n <= 0:
        return []
    rows = session.scalars(
        select(Stage2Analysis.captions_raw)
        .where(
            Stage2Analysis.camera_id == camera_id,
            Stage2Analysis.status == "done",
            Stage2Analysis.window_start_at < before,
        )
        .order_by(Stage2Analysis.window_start_at.desc())
        .limit(n)
    )
    return [c for captions in rows for c in (captions or [])]


def past_summaries(
    session: Session, row: Stage2Analysis, kind: str, limit: int
) -> list[tuple[int, list[float], float]]:
    """(id, summary embedding, LLM score) of the camera's recent analyses comparable to this one
    (same embedding kind and prompt version) whose rating parsed: interpolated scores are
    derived from neighbours already and are not mixed in again."""
    rows = session.execute(
        select(Stage2Analysis.id, Stage2Analysis.embedding, Stage2Analysis.llm_score)
        .where(
            Stage2Analysis.camera_id == row.camera_id,
            Stage2Analysis.id != row.id,
            Stage2Analysis.status == "done",
            Stage2Analysis.llm_score.is_not(None),
            Stage2Analysis.embedding_kind == kind,
            Stage2Analysis.prompt_version == row.prompt_version,
        )
        .order_by(Stage2Analysis.window_start_at.desc())
        .limit(limit)
    )
    return [(i, e, s) for i, e, s in rows if e]


def scored_series(session: Session, camera_id: int, limit: int) -> list[Stage2Analysis]:
    """The camera's recent finished analyses that were asked for a rating, in time order (for
    gap filling)."""
    rows = session.scalars(
        select(Stage2Analysis)
        .where(
            Stage2Analysis.camera_id == camera_id,
            Stage2Analysis.status == "done",
            Stage2Analysis.score_source.is_distinct_from(NOT_RATED),
        )
        .order_by(Stage2Analysis.window_start_at.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


def for_incident(session: Session, incident_id: int) -> list[Stage2Analysis]:
    """Every analysis of an incident, whatever its status, in window order."""
    return list(
        session.scalars(
            select(Stage2Analysis)
            .where(Stage2Analysis.incident_id == incident_id)
            .order_by(Stage2Analysis.window_start_at)
        )
    )


def incident_analyses(session: Session, incident_id: int) -> list[Stage2Analysis]:
    return list(
        session.scalars(
            select(Stage2Analysis)
            .where(Stage2Analysis.incident_id == incident_id, Stage2Analysis.status == "done")
            .order_by(Stage2Analysis.window_start_at)
        )
    )


def stale(session: Session, older_than: datetime, limit: int = 200) -> list[int]:
    """Open analyses whose message was probably lost or whose worker died."""
    stamp = func.coalesce(Stage2Analysis.started_at, Stage2Analysis.requested_at)
    return list(
        session.scalars(
            select(Stage2Analysis.id)
            .where(Stage2Analysis.status.in_(OPEN_STATES), stamp < older_than)
            .order_by(Stage2Analysis.id)
            .limit(limit)
        )
    )


def mark_resent(session: Session, ids: list[int]) -> None:
    session.execute(
        update(Stage2Analysis)
        .where(Stage2Analysis.id.in_(ids), Stage2Analysis.status.in_(OPEN_STATES))
        .values(status="pending", started_at=None, requested_at=now_utc())
    )


# --- reporting ----------------------------------------------------------------------------------


def counts(session: Session, since: timedelta | None = None) -> dict[tuple[str, str], int]:
    """(status, reason kind) -> analyses; the reason kind is the text before the first colon
    ("budget", "stale", "incident cap", ...), "" when there is none."""
    kind = func.coalesce(func.split_part(Stage2Analysis.reason, ":", 1), "")
    query = select(Stage2Analysis.status, kind, func.count()).group_by(Stage2Analysis.status, kind)
    if since is not None:
        query = query.where(Stage2Analysis.requested_at > func.now() - since)
    return {
        (status, reason if status != "done" else ""): n
        for status, reason, n in session.execute(query)
    }


def model_folder(session: Session, camera_id: int) -> str | None:
    """The camera's latest model folder, where its stage-2 calibration lives
    (vad/stage2/weight.py); None before the camera learned."""
    from db.model_registry import latest_model

    record = latest_model(session, camera_id)
    return record.path if record else None


def model_folders(session: Session) -> list[tuple[str, str | None]]:
    """(camera name, its latest model folder or None) of every camera."""
    from db.camera_queries import list_cameras

    return [(c.name, model_folder(session, c.id)) for c in list_cameras(session)]
