"""the rate a camera is analysed at: `cameras.source_fps`

Revision ID: 0012
Revises: 0011

`cameras.source_fps`: the frame rate the camera's source announced at its latest connection,
written by ingest with its status reports (NULL = unknown, or not connected since). With the
camera's fps setting it gives the rate the camera is actually analysed at
(`vad.sampling.camera_rates`: a 25 fps camera set to 10 is analysed at 8.33 fps), which the
API, `vad camera list` and `/metrics` show beside the setting.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cameras", sa.Column("source_fps", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("cameras", "source_fps")
