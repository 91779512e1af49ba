"""look-ahead: the last frame after a window its scores waited for (issue 17)

Revision ID: 0013
Revises: 0012

`windows.ahead_offset` is the offset of the camera's last frame after the window that its frames'
scores are averaged with (`scoring.look_ahead_seconds`, `vad.scoring.look_ahead`); NULL = none
(look-ahead off, or no frame followed before the stream ended or went quiet). The worker reads
the window's frames up to it, so a retried window reads exactly the same frames.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "windows",
        sa.Column(
            "ahead_offset",
            sa.BigInteger(),
            nullable=True,
            comment="last look-ahead frame after the window (NULL: none)",
        ),
    )


def downgrade() -> None:
    op.drop_column("windows", "ahead_offset")
