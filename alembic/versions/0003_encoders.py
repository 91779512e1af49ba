"""frame embeddings (pgvector), detections, zero-shot watch rules (issue 5)

Revision ID: 0003
Revises: 0002

`frame_embeddings.embedding` is a `vector` of no fixed dimension: models differ (512, 768, ...).
The HNSW index is per model - a partial expression index on `embedding::vector(<dim>)` for
`model_id = <id>` - created by `db.embedding_queries.register_model`, not here.
"""

from __future__ import annotations

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def _frame_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "window_id",
            sa.BigInteger(),
            sa.ForeignKey("windows.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "camera_id",
            sa.Integer(),
            sa.ForeignKey("cameras.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=False),
        sa.Column("captured_at", TS, nullable=False),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "encoder_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column(
            "dim", sa.Integer(), nullable=False, comment="embedding dimension (0 for detectors)"
        ),
        sa.Column("info", JSON_DOC, nullable=False, comment="export manifest"),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.UniqueConstraint("name", "dim", name="uq_encoder_model"),
    )
    op.create_table(
        "frame_embeddings",
        *_frame_columns(),
        sa.Column(
            "model_id",
            sa.Integer(),
            sa.ForeignKey("encoder_models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("embedding", Vector(), nullable=False),
        sa.UniqueConstraint("window_id", "kafka_offset", "model_id", name="uq_frame_embedding"),
    )
    op.create_index(
        "ix_frame_embeddings_camera_time", "frame_embeddings", ["camera_id", "captured_at"]
    )
    op.create_table(
        "frame_detections",
        *_frame_columns(),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("objects", JSON_DOC, nullable=False, comment="[{class, confidence, box}]"),
        sa.Column("counts", JSON_DOC, nullable=False, comment="class -> count"),
        sa.UniqueConstraint("window_id", "kafka_offset", name="uq_frame_detections"),
    )
    op.create_index(
        "ix_frame_detections_camera_time", "frame_detections", ["camera_id", "captured_at"]
    )
    op.create_table(
        "frame_zero_shot",
        *_frame_columns(),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("stage1", sa.Float(), nullable=True, comment="stage-1 score before fusion"),
        sa.Column("probability", sa.Float(), nullable=False, comment="zero-shot P(anomalous)"),
        sa.Column("fused", sa.Float(), nullable=True, comment="the score stored in frame_scores"),
        sa.Column("top_rule", sa.Text(), nullable=False, comment="most similar anomaly prompt"),
        sa.Column("fired", sa.String(20), nullable=False, comment="'stage1' or 'zero-shot'"),
        sa.UniqueConstraint("window_id", "kafka_offset", name="uq_frame_zero_shot"),
    )
    op.create_index(
        "ix_frame_zero_shot_camera_offset", "frame_zero_shot", ["camera_id", "kafka_offset"]
    )
    op.create_table(
        "watch_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "camera_id",
            sa.Integer(),
            sa.ForeignKey("cameras.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(10), nullable=False, comment="'anomaly' or 'normal'"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.UniqueConstraint("camera_id", "kind", "text", name="uq_watch_rule"),
    )


def downgrade() -> None:
    for table in ("watch_rules", "frame_zero_shot", "frame_detections", "frame_embeddings"):
        op.drop_table(table)
    op.drop_table("encoder_models")
