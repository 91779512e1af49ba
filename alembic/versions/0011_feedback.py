"""feedback: operators' verdicts on incidents, model versions that say what they learned from
(issue 20)

Revision ID: 0011
Revises: 0009

`incident_feedback`: one verdict per incident (`confirmed` or `false_alarm`, optional note, who
gave it); a false alarm names the model version it taught (`model_id`). `normality_models` gains
`parent_id` (the version an incremental update started from), `learned_from` (incident ids,
frame ranges, or the footage a refit read) and `retired_at` (set by undo: workers skip a retired
version, so the previous one scores again). `cameras.relearn_every_hours`: the optional schedule
of `vad camera learn NAME --recent` (NULL = never).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "normality_models",
        sa.Column(
            "parent_id",
            sa.Integer(),
            sa.ForeignKey("normality_models.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.add_column("normality_models", sa.Column("learned_from", JSONB(), nullable=True))
    op.add_column(
        "normality_models", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("cameras", sa.Column("relearn_every_hours", sa.Float(), nullable=True))
    op.create_table(
        "incident_feedback",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "incident_id",
            sa.BigInteger(),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("verdict", sa.String(12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column(
            "model_id",
            sa.Integer(),
            sa.ForeignKey("normality_models.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("verdict IN ('confirmed', 'false_alarm')", name="ck_feedback_verdict"),
    )


def downgrade() -> None:
    op.drop_table("incident_feedback")
    op.drop_column("cameras", "relearn_every_hours")
    op.drop_column("normality_models", "retired_at")
    op.drop_column("normality_models", "learned_from")
    op.drop_column("normality_models", "parent_id")
