"""appearance-model verdicts per frame (issue 4: the CLIP feature family)

Revision ID: 0007
Revises: 0006

One row per frame scored by the camera's appearance model (CLIP embeddings of square tiles
against the camera's normal views): the calibrated score, which part of the view decided it, and
whether it decided the frame's fused score.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "frame_appearance",
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
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "model",
            sa.String(200),
            nullable=False,
            comment="the encoder the tiles were embedded by",
        ),
        sa.Column("score", sa.Float(), nullable=False, comment="appearance-model score, 0..1"),
        sa.Column(
            "reason", sa.Text(), nullable=True, comment="which part of the view, how unusual"
        ),
        sa.Column(
            "fired",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
            comment="decided the stored frame score",
        ),
        sa.UniqueConstraint("window_id", "kafka_offset", name="uq_frame_appearance"),
    )
    op.create_index(
        "ix_frame_appearance_camera_offset", "frame_appearance", ["camera_id", "kafka_offset"]
    )


def downgrade() -> None:
    op.drop_index("ix_frame_appearance_camera_offset", table_name="frame_appearance")
    op.drop_table("frame_appearance")
