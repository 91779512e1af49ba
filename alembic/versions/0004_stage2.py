"""stage-2 analyses: captions, summaries, LLM scores (issue 7)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def _fk(column: str, target: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        column, sa.BigInteger(), sa.ForeignKey(target, ondelete="CASCADE"), nullable=nullable
    )


def upgrade() -> None:
    op.add_column(
        "cameras",
        sa.Column("context", sa.Text(), nullable=True, comment="what this place is, what's normal"),
    )
    op.add_column(
        "incidents",
        sa.Column("fused_score", sa.Float(), nullable=True, comment="stage 1 + stage 2, see docs"),
    )
    op.add_column("incidents", sa.Column("explanation", sa.Text(), nullable=True))
    op.create_table(
        "stage2_analyses",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "camera_id",
            sa.Integer(),
            sa.ForeignKey("cameras.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _fk("incident_id", "incidents.id", nullable=True),
        _fk("window_id", "windows.id"),
        sa.Column("window_start_at", TS, nullable=False),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("requested_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("frame_offsets", JSON_DOC, nullable=True),
        sa.Column("frame_indices", JSON_DOC, nullable=True),
        sa.Column("frame_times", JSON_DOC, nullable=True, comment="capture times, epoch s"),
        sa.Column("captions_raw", JSON_DOC, nullable=True),
        sa.Column("captions_clean", JSON_DOC, nullable=True),
        sa.Column("cleaning", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True, comment="the LLM's raw rating answer"),
        sa.Column("answer_error", sa.Text(), nullable=True, comment="why it did not parse"),
        sa.Column("llm_score", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True, comment="llm_score or interpolated"),
        sa.Column("score_source", sa.String(12), nullable=True),
        sa.Column("refined_score", sa.Float(), nullable=True),
        sa.Column("refined_from", JSON_DOC, nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("stage1_peak", sa.Float(), nullable=True),
        sa.Column("fused_score", sa.Float(), nullable=True),
        sa.Column("embedding", JSON_DOC, nullable=True, comment="summary vector (unit)"),
        sa.Column("embedding_kind", sa.String(120), nullable=True),
        sa.Column("captioner", sa.String(200), nullable=True),
        sa.Column("llm", sa.String(200), nullable=True),
        sa.Column("encoder", sa.String(200), nullable=True),
        sa.Column("prompt_version", sa.String(40), nullable=True),
        sa.Column("context", sa.Text(), nullable=True, comment="camera context prompt used"),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("stage_seconds", JSON_DOC, nullable=True),
        sa.UniqueConstraint("window_id", name="uq_stage2_window"),
    )
    op.create_index("ix_stage2_camera_time", "stage2_analyses", ["camera_id", "window_start_at"])
    op.create_index("ix_stage2_incident", "stage2_analyses", ["incident_id"])
    op.create_index("ix_stage2_status_requested", "stage2_analyses", ["status", "requested_at"])


def downgrade() -> None:
    op.drop_table("stage2_analyses")
    op.drop_column("incidents", "explanation")
    op.drop_column("incidents", "fused_score")
    op.drop_column("cameras", "context")
