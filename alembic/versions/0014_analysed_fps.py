"""the rate a camera's ingest analyses at: `cameras.analysed_fps`

Revision ID: 0014
Revises: 0013

`cameras.analysed_fps`: the frames per second ingest's sampler applied at the camera's latest
connection (`vad.sampling.AnalysisSampler.rate`: every k-th frame of the source, e.g. 8.33 for a
25 fps source set to 10; the setting when the source announces no rate), written with its status
reports beside `source_fps` (NULL = not connected since). Stored so that SQL readers (the Grafana
camera table) show the analysed rate without a copy of the stride rule, which has one owner,
vad.sampling.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cameras", sa.Column("analysed_fps", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("cameras", "analysed_fps")
