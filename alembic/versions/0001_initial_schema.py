"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 20:35:03.510262
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # pgvector for embeddings (frame embeddings and search come in later migrations).
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=True, comment="analysis fps; NULL = default"),
        sa.Column("loop", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "threshold", sa.Float(), nullable=True, comment="incident threshold; NULL = default"
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kept_frames", sa.BigInteger(), nullable=False),
        sa.Column("pruned_frames", sa.BigInteger(), nullable=False),
        sa.Column("dropped_frames", sa.BigInteger(), nullable=False),
        sa.Column(
            "resume_index",
            sa.BigInteger(),
            nullable=False,
            comment="next source frame index (files)",
        ),
        sa.Column("next_window_seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "dispatch_progress",
        sa.Column("topic_id", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column(
            "position",
            sa.BigInteger(),
            nullable=False,
            comment="safe offset to resume reading from",
        ),
        sa.Column(
            "camera_last",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="camera id -> last dispatched offset",
        ),
        sa.Column(
            "camera_context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
            comment="camera id -> recent offsets",
        ),
        sa.PrimaryKeyConstraint("topic_id", "partition"),
    )
    op.create_table(
        "camera_trackers",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera_id"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("peak_score", sa.Float(), nullable=False),
        sa.Column("peak_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peak_offset", sa.BigInteger(), nullable=True),
        sa.Column("key_frame", sa.LargeBinary(), nullable=True, comment="JPEG of the peak frame"),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("scorer", sa.String(length=100), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True, comment="which decision rule opened it"),
        sa.Column("first_window_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_window_seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_incidents_camera_start", "incidents", ["camera_id", "started_at"], unique=False
    )
    op.create_table(
        "normality_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "info",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("camera_id", "version", name="uq_model_version"),
    )
    op.create_table(
        "scorer_states",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("scorer", sa.String(length=100), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera_id", "scorer"),
    )
    op.create_table(
        "windows",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, comment="per-camera order of windows"),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column(
            "topic_id",
            sa.String(length=64),
            nullable=False,
            comment="identity of the Kafka log (topic id)",
        ),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("first_offset", sa.BigInteger(), nullable=False),
        sa.Column("last_offset", sa.BigInteger(), nullable=False),
        sa.Column(
            "context_offset", sa.BigInteger(), nullable=True, comment="first look-back frame"
        ),
        sa.Column("n_frames", sa.Integer(), nullable=False),
        sa.Column("end_of_stream", sa.Boolean(), nullable=False, comment="source ended here"),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("scorer", sa.String(length=100), nullable=True),
        sa.Column(
            "enqueued_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("camera_id", "seq", name="uq_window_seq"),
        sa.UniqueConstraint(
            "camera_id", "topic_id", "partition", "first_offset", name="uq_window_natural"
        ),
    )
    op.create_index(
        "ix_windows_status_enqueued", "windows", ["status", "enqueued_at"], unique=False
    )
    op.create_table(
        "frame_scores",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("window_id", sa.BigInteger(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("frame_index", sa.BigInteger(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "scored_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("raw", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["window_id"], ["windows.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("window_id", "kafka_offset", name="uq_frame_score"),
    )
    op.create_index(
        "ix_frame_scores_camera_time", "frame_scores", ["camera_id", "captured_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_frame_scores_camera_time", table_name="frame_scores")
    op.drop_table("frame_scores")
    op.drop_index("ix_windows_status_enqueued", table_name="windows")
    op.drop_table("windows")
    op.drop_table("scorer_states")
    op.drop_table("normality_models")
    op.drop_index("ix_incidents_camera_start", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("camera_trackers")
    op.drop_table("dispatch_progress")
    op.drop_table("cameras")
