"""SQLAlchemy 2 models. The schema itself is only ever changed by Alembic migrations.

Every effect of the pipeline is idempotent on a natural key: a window is unique on
(camera, log, partition, first offset), a frame score on (window, offset). A process may die at any
point and be retried without leaving duplicates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JsonDoc = JSON().with_variant(JSONB(), "postgresql")
# Python None stored as SQL NULL (not JSON 'null'), so `IS NULL` means "not set".
NullableJson = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    pass


class FrameKeyColumns:
    """The key every per-frame table shares: which frame of the log (window, camera, Kafka
    offset) and when it was captured. One definition, so the frame tables (`frame_scores`,
    `frame_embeddings`, `frame_detections`, `frame_zero_shot`, `frame_appearance`) cannot drift
    apart; each table adds its own unique key and index over these columns. `sort_order` keeps
    them first in each table (column order is cosmetic: the migrations own the schema, and
    `alembic` autogenerate sees no difference)."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, sort_order=-10)
    window_id: Mapped[int] = mapped_column(
        ForeignKey("windows.id", ondelete="CASCADE"), sort_order=-9
    )
    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), sort_order=-8
    )
    kafka_offset: Mapped[int] = mapped_column(BigInteger, sort_order=-7)
    captured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), sort_order=-6)


class Camera(Base):
    """A stream the service watches, with its live status and ingest counters."""

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text, comment="shown everywhere: credentials redacted")
    url_sealed: Mapped[str | None] = mapped_column(
        Text, comment="full URL with credentials, encrypted (db.secrets); NULL = none"
    )
    verify_tls: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default="true", comment="check rtsps/https certificates"
    )
    fps: Mapped[float | None] = mapped_column(Float, comment="analysis fps; NULL = default")
    source_fps: Mapped[float | None] = mapped_column(
        Float, comment="fps the source announced at its latest connection; NULL = unknown"
    )
    analysed_fps: Mapped[float | None] = mapped_column(
        Float, comment="fps ingest analysed at its latest connection; NULL = not connected"
    )
    loop: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    threshold: Mapped[float | None] = mapped_column(
        Float, comment="incident threshold; NULL = default"
    )
    status: Mapped[str] = mapped_column(String(20), default="new")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kept_frames: Mapped[int] = mapped_column(BigInteger, default=0)
    pruned_frames: Mapped[int] = mapped_column(BigInteger, default=0)
    dropped_frames: Mapped[int] = mapped_column(BigInteger, default=0)
    resume_index: Mapped[int] = mapped_column(
        BigInteger, default=0, comment="next source frame index (files)"
    )
    next_window_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    context: Mapped[str | None] = mapped_column(
        Text, comment="what this place is, what's normal (stage-2 prompts)"
    )
    relearn_every_hours: Mapped[float | None] = mapped_column(
        Float, comment="refit from the last N hours every N hours (vad camera learn --recent)"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CameraRegion(Base):
    """One polygon drawn on a camera's view (vad.masks): part of its mask, or of a named zone."""

    __tablename__ = "camera_regions"
    __table_args__ = (Index("ix_camera_regions_camera", "camera_id", "kind", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), comment="mask | zone")
    zone: Mapped[str | None] = mapped_column(String(60), comment="zone name; NULL for a mask")
    points: Mapped[list] = mapped_column(JsonDoc, comment="[[x, y], ...] in [0, 1] of the frame")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Window(Base):
    """A slice of one camera's frames in Kafka: the unit of Celery work (a claim check)."""

    __tablename__ = "windows"
    __table_args__ = (
        UniqueConstraint(
            "camera_id", "topic_id", "partition", "first_offset", name="uq_window_natural"
        ),
        UniqueConstraint("camera_id", "seq", name="uq_window_seq"),
        Index("ix_windows_status_enqueued", "status", "enqueued_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger, comment="per-camera order of windows")
    topic: Mapped[str] = mapped_column(String(200))
    topic_id: Mapped[str] = mapped_column(
        String(64), comment="identity of the Kafka log (topic id)"
    )
    partition: Mapped[int] = mapped_column(Integer)
    first_offset: Mapped[int] = mapped_column(BigInteger)
    last_offset: Mapped[int] = mapped_column(BigInteger)
    context_offset: Mapped[int | None] = mapped_column(BigInteger, comment="first look-back frame")
    ahead_offset: Mapped[int | None] = mapped_column(
        BigInteger, comment="last look-ahead frame after the window (NULL: none)"
    )
    n_frames: Mapped[int] = mapped_column(Integer)
    end_of_stream: Mapped[bool] = mapped_column(Boolean, default=False, comment="source ended here")
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    scorer: Mapped[str | None] = mapped_column(String(100))
    enqueued_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FrameScore(FrameKeyColumns, Base):
    """Exactly one row per kept frame: its stage-1 score, or the reason it has none."""

    __tablename__ = "frame_scores"
    __table_args__ = (
        UniqueConstraint("window_id", "kafka_offset", name="uq_frame_score"),
        Index("ix_frame_scores_camera_time", "camera_id", "captured_at"),
    )

    frame_index: Mapped[int] = mapped_column(BigInteger)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    score: Mapped[float | None] = mapped_column(Float)
    raw: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    fired: Mapped[str | None] = mapped_column(
        String(40), comment="the model whose score is the frame's (vad.scoring.fusion)"
    )
    zones: Mapped[list | None] = mapped_column(
        NullableJson,
        comment="zones the frame touched (vad.masks.ZoneLocator); NULL = camera has none",
    )


class Incident(Base):
    """A run of frames whose smoothed score stayed over the camera's threshold."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_camera_start", "camera_id", "started_at"),
        Index("ix_incidents_started", "started_at"),
        Index("ix_incidents_peak", "peak_score"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    peak_score: Mapped[float] = mapped_column(Float)
    peak_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    peak_offset: Mapped[int | None] = mapped_column(BigInteger)
    key_frame: Mapped[bytes | None] = mapped_column(LargeBinary, comment="JPEG of the peak frame")
    threshold: Mapped[float] = mapped_column(Float)
    scorer: Mapped[str | None] = mapped_column(String(100))
    rule: Mapped[str | None] = mapped_column(Text, comment="which decision rule opened it")
    fired: Mapped[str | None] = mapped_column(
        Text, comment="which model decided the peak frame, and why"
    )
    first_window_seq: Mapped[int] = mapped_column(BigInteger)
    last_window_seq: Mapped[int] = mapped_column(BigInteger)
    fused_score: Mapped[float | None] = mapped_column(
        Float, comment="stage 1 + stage 2 (docs/architecture.md)"
    )
    explanation: Mapped[str | None] = mapped_column(Text, comment="stage 2, one sentence")
    zones: Mapped[list | None] = mapped_column(
        NullableJson, comment="zones its frames over the threshold touched; NULL = camera had none"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CameraTracker(Base):
    """Per-camera incident state machine, advanced strictly in window order."""

    __tablename__ = "camera_trackers"

    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    next_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[dict] = mapped_column(JsonDoc, default=dict)


class ScorerState(Base):
    """Slowly varying per-camera scorer statistics (e.g. the motion baseline)."""

    __tablename__ = "scorer_states"

    camera_id: Mapped[int] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    scorer: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[dict] = mapped_column(JsonDoc, default=dict)


class DispatchProgress(Base):
    """Where the dispatcher resumes in one partition of one Kafka log."""

    __tablename__ = "dispatch_progress"

    topic_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(BigInteger, comment="safe offset to resume reading from")
    camera_last: Mapped[dict] = mapped_column(
        JsonDoc, default=dict, comment="camera id -> last dispatched offset"
    )
    camera_context: Mapped[dict] = mapped_column(
        JsonDoc, default=dict, comment="camera id -> recent offsets"
    )


class NormalityModelRecord(Base):
    """A fitted per-camera normality model stored in the model folder; highest version wins."""

    __tablename__ = "normality_models"
    __table_args__ = (UniqueConstraint("camera_id", "version", name="uq_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    frames: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    info: Mapped[dict] = mapped_column(JsonDoc, default=dict)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("normality_models.id", ondelete="SET NULL"),
        comment="the version an incremental update started from",
    )
    learned_from: Mapped[dict | None] = mapped_column(
        JsonDoc, comment="incident ids and frame ranges, or the footage a refit read"
    )
    retired_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="undone: workers skip this version"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IncidentFeedback(Base):
    """An operator's verdict on an incident; a false alarm names the model version it taught."""

    __tablename__ = "incident_feedback"
    __table_args__ = (
        CheckConstraint("verdict IN ('confirmed', 'false_alarm')", name="ck_feedback_verdict"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    verdict: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    model_id: Mapped[int | None] = mapped_column(
        ForeignKey("normality_models.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
