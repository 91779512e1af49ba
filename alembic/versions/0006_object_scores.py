"""object-level normality scores on detection rows (issue 5)

Revision ID: 0006
Revises: 0005

Each detection row gets the camera's object-model verdict for that frame: the calibrated score,
the sentence saying what decided it, and whether it decided the frame's fused score (so an
incident can say "fired: bicycle: a class this camera never showed").
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "frame_detections",
        sa.Column("object_score", sa.Float(), nullable=True, comment="object-model score, 0..1"),
    )
    op.add_column(
        "frame_detections",
        sa.Column("object_reason", sa.Text(), nullable=True, comment="what decided object_score"),
    )
    op.add_column(
        "frame_detections",
        sa.Column(
            "object_fired",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
            comment="object_score decided the frame's stored score",
        ),
    )


def downgrade() -> None:
    for column in ("object_fired", "object_reason", "object_score"):
        op.drop_column("frame_detections", column)
