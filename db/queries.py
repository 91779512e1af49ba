"""Query functions shared by the CLI, the API and the workers.

Each takes a Session and leaves transaction boundaries to the caller, so a unit of work (e.g. a
window's scores + its status + the scorer state) commits or rolls back as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import (
    Camera,
    CameraTracker,
    DispatchProgress,
    FrameScore,
    Incident,
    NormalityModelRecord,
    ScorerState,
    Window,
)
from db.secrets import SecretBox, seal_url
from vad.types import IngestReport


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- cameras -------------------------------------------------------------------------------------


class CameraExists(ValueError):
    pass


class CameraNotFound(LookupError):
    pass


def add_camera(
    session: Session,
    name: str,
    url: str,
    fps: float | None,
    loop: bool,
    enabled: bool = True,
    *,
    box: SecretBox | None = None,
    verify_tls: bool = True,
) -> Camera:
    """A new camera; credentials in `url` are stored sealed with `box` (required then), and
    the clear `url` column keeps the redacted form."""
    if session.scalar(select(Camera).where(Camera.name == name)) is not None:
        raise CameraExists(f"a camera named {name!r} already exists")
    shown, sealed = seal_url(box, url)
    camera = Camera(
        name=name,
        url=shown,
        url_sealed=sealed,
        verify_tls=verify_tls,
        fps=fps,
        loop=loop,
        enabled=enabled,
        status="new",
    )
    session.add(camera)
    session.flush()
    return camera


def get_camera(session: Session, name: str) -> Camera:
    camera = session.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        raise CameraNotFound(f"no camera named {name!r} (see `vad camera list`)")
    return camera


def list_cameras(session: Session, enabled_only: bool = False) -> list[Camera]:
    query = select(Camera).order_by(Camera.name)
    if enabled_only:
        query = query.where(Camera.enabled.is_(True))
    return list(session.scalars(query))


def remove_camera(session: Session, name: str) -> None:
    session.delete(get_camera(session, name))


def apply_ingest_report(session: Session, report: IngestReport) -> None:
    values: dict = {
        "kept_frames": Camera.kept_frames + report.kept,
        "pruned_frames": Camera.pruned_frames + report.pruned,
        "dropped_frames": Camera.dropped_frames + report.dropped,
    }
    if report.resume_index is not None:
        values["resume_index"] = report.resume_index
    status_changed = (Camera.status != report.status) | (
        Camera.status_reason.is_distinct_from(report.reason)
    )
    session.execute(update(Camera).where(Camera.id == report.camera_id).values(**values))
    session.execute(
        update(Camera)
        .where(Camera.id == report.camera_id, status_changed)
        .values(status=report.status, status_reason=report.reason, status_at=now_utc())
    )


# --- windows (dispatcher) ----------------------------------------------------------------------


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
) -> Window | None:
    """Insert a window with the camera's next sequence number; None if it exists or the camera
    was removed meanwhile."""
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


# --- windows (workers) ----------------------------------------------------------------------------


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


def load_scorer_state(session: Session, camera_id: int, scorer: str) -> dict | None:
    row = session.get(ScorerState, (camera_id, scorer))
    return dict(row.state) if row is not None else None


def save_scorer_state(session: Session, camera_id: int, scorer: str, state: dict) -> None:
    stmt = insert(ScorerState).values(camera_id=camera_id, scorer=scorer, state=state)
    session.execute(
        stmt.on_conflict_do_update(index_elements=["camera_id", "scorer"], set_={"state": state})
    )


# --- incident tracking ----------------------------------------------------------------------------


def lock_tracker(session: Session, camera_id: int) -> CameraTracker:
    """The camera's tracker row, locked for this transaction (created on first use)."""
    session.execute(
        insert(CameraTracker)
        .values(camera_id=camera_id, next_seq=0, state={})
        .on_conflict_do_nothing(index_elements=["camera_id"])
    )
    return session.get(CameraTracker, camera_id, with_for_update=True, populate_existing=True)


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


# --- incidents ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    camera: str | None = None
    since: datetime | None = None
    min_score: float | None = None
    status: str | None = None
    limit: int = 100
    offset: int = 0


def query_incidents(session: Session, flt: IncidentFilter) -> list[tuple[Incident, str]]:
    query = select(Incident, Camera.name).join(Camera, Camera.id == Incident.camera_id)
    if flt.camera:
        query = query.where(Camera.name == flt.camera)
    if flt.since:
        query = query.where(func.coalesce(Incident.ended_at, func.now()) >= flt.since)
    if flt.min_score is not None:
        query = query.where(Incident.peak_score >= flt.min_score)
    if flt.status:
        query = query.where(Incident.status == flt.status)
    query = query.order_by(Incident.started_at.desc()).limit(flt.limit).offset(flt.offset)
    return [(incident, name) for incident, name in session.execute(query)]


# --- normality models -----------------------------------------------------------------------------


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
