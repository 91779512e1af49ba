"""Encoder outputs per kept frame: image embeddings (pgvector), detections, zero-shot scores;
plus the registered encoder models and the per-camera watch rules.

Exactly-once like frame scores: every per-frame row is unique on (window, offset[, model]) and
written in the transaction that finishes the window.

Embedding dimension differs per model (512 for ViT-B/32, 768 for ViT-L/14, 32 for the test model),
so `embedding` is a `vector` without a fixed dimension. Each registered model gets its own partial
HNSW index on the expression `embedding::vector(<dim>)` restricted to `model_id = <id>`, created
when the model is registered; queries must use the same expression and filter
(`nearest_frames`), which is what lets PostgreSQL pick that index.
"""

from __future__ import annotations

from datetime import datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, FrameKeyColumns, JsonDoc


class EncoderModelRecord(Base):
    """An exported encoder whose outputs are stored; its id scopes embeddings and their index."""

    __tablename__ = "encoder_models"
    __table_args__ = (UniqueConstraint("name", "dim", name="uq_encoder_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    dim: Mapped[int] = mapped_column(Integer, comment="embedding dimension (0 for detectors)")
    info: Mapped[dict] = mapped_column(JsonDoc, default=dict, comment="export manifest")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FrameEmbedding(FrameKeyColumns, Base):
    """One kept frame's L2-normalised image embedding from one model."""

    __tablename__ = "frame_embeddings"
    __table_args__ = (
        UniqueConstraint("window_id", "kafka_offset", "model_id", name="uq_frame_embedding"),
        Index("ix_frame_embeddings_camera_time", "camera_id", "captured_at"),
    )

    model_id: Mapped[int] = mapped_column(ForeignKey("encoder_models.id", ondelete="CASCADE"))
    embedding: Mapped[list[float]] = mapped_column(Vector())


class FrameDetections(FrameKeyColumns, Base):
    """What the detector found in one kept frame, and the per-class counts."""

    __tablename__ = "frame_detections"
    __table_args__ = (
        UniqueConstraint("window_id", "kafka_offset", name="uq_frame_detections"),
        Index("ix_frame_detections_camera_time", "camera_id", "captured_at"),
    )

    model: Mapped[str] = mapped_column(String(200))
    objects: Mapped[list] = mapped_column(
        JsonDoc, default=list, comment="[{class, confidence, box: [x1, y1, x2, y2] in 0..1}]"
    )
    counts: Mapped[dict] = mapped_column(JsonDoc, default=dict, comment="class -> count")
    object_score: Mapped[float | None] = mapped_column(
        Float, comment="the camera's object-model score of this frame (None: no object model)"
    )
    object_reason: Mapped[str | None] = mapped_column(Text, comment="what decided object_score")
    object_fired: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="decided the stored frame score"
    )


class FrameZeroShot(FrameKeyColumns, Base):
    """A frame's zero-shot probability, the stage-1 score, the fused score and what decided it."""

    __tablename__ = "frame_zero_shot"
    __table_args__ = (
        UniqueConstraint("window_id", "kafka_offset", name="uq_frame_zero_shot"),
        Index("ix_frame_zero_shot_camera_offset", "camera_id", "kafka_offset"),
    )

    model: Mapped[str] = mapped_column(String(200))
    stage1: Mapped[float | None] = mapped_column(Float, comment="stage-1 score before fusion")
    probability: Mapped[float] = mapped_column(Float, comment="zero-shot P(anomalous)")
    fused: Mapped[float | None] = mapped_column(Float, comment="the score stored in frame_scores")
    top_rule: Mapped[str] = mapped_column(Text, comment="most similar anomaly prompt")
    fired: Mapped[str] = mapped_column(String(20), comment="'stage1' or 'zero-shot'")


class FrameAppearance(FrameKeyColumns, Base):
    """The camera's appearance-model verdict on one frame (CLIP tiles against its normal views)."""

    __tablename__ = "frame_appearance"
    __table_args__ = (
        UniqueConstraint("window_id", "kafka_offset", name="uq_frame_appearance"),
        Index("ix_frame_appearance_camera_offset", "camera_id", "kafka_offset"),
    )

    model: Mapped[str] = mapped_column(
        String(200), comment="the encoder the tiles were embedded by"
    )
    score: Mapped[float] = mapped_column(Float, comment="appearance-model score, 0..1")
    reason: Mapped[str | None] = mapped_column(Text, comment="which part of the view, how unusual")
    fired: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="decided the stored frame score"
    )


class WatchRule(Base):
    """A camera's own sentence: an anomaly to watch for, or a description of its normal scene."""

    __tablename__ = "watch_rules"
    __table_args__ = (UniqueConstraint("camera_id", "kind", "text", name="uq_watch_rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), comment="'anomaly' or 'normal'")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
