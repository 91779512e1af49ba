"""what fired: its own column on frame scores and incidents (issue 17)

Revision ID: 0008
Revises: 0007

`frame_scores.fired` names the model whose calibrated score became the frame's score after
fusion (`vad.scoring.fusion`: pixel, velocity, objects, appearance, zero-shot, or the motion
baseline); `incidents.fired` says which model decided the incident's peak frame and why. It was a
" | fired: ..." suffix on `incidents.rule`; existing suffixes are moved into the new column.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SUFFIX = " | fired: "


def upgrade() -> None:
    op.add_column(
        "frame_scores",
        sa.Column(
            "fired",
            sa.String(40),
            nullable=True,
            comment="the model whose score is the frame's (vad.scoring.fusion)",
        ),
    )
    op.add_column(
        "incidents",
        sa.Column(
            "fired", sa.Text(), nullable=True, comment="which model decided the peak frame, and why"
        ),
    )
    op.execute(
        f"UPDATE incidents SET fired = split_part(rule, '{_SUFFIX}', 2), "
        f"rule = split_part(rule, '{_SUFFIX}', 1) WHERE rule LIKE '%{_SUFFIX}%'"
    )


def downgrade() -> None:
    op.execute(f"UPDATE incidents SET rule = rule || '{_SUFFIX}' || fired WHERE fired IS NOT NULL")
    op.drop_column("incidents", "fired")
    op.drop_column("frame_scores", "fired")
