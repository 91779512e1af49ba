"""masks and zones per camera; the zones frames and incidents touched; webhook zone filter
(issue 20, item 1)

Revision ID: 0010
Revises: 0009

`camera_regions` holds one polygon per row (normalised [[x, y], ...]): kind `mask` (hidden from
stage 1 and the detector) or `zone` (named). `frame_scores.zones` and `incidents.zones` list the
zone names touched (NULL when the camera had no zones); `webhook_subscriptions.zones` filters
deliveries (NULL = all).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_regions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "camera_id",
            sa.Integer(),
            sa.ForeignKey("cameras.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(8), nullable=False, comment="mask | zone"),
        sa.Column("zone", sa.String(60), nullable=True, comment="zone name; NULL for a mask"),
        sa.Column("points", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("kind IN ('mask', 'zone')", name="ck_camera_regions_kind"),
        sa.CheckConstraint("(kind = 'zone') = (zone IS NOT NULL)", name="ck_camera_regions_zone"),
    )
    op.create_index("ix_camera_regions_camera", "camera_regions", ["camera_id", "kind", "id"])
    op.add_column("frame_scores", sa.Column("zones", postgresql.JSONB(), nullable=True))
    op.add_column("incidents", sa.Column("zones", postgresql.JSONB(), nullable=True))
    op.create_index(
        "ix_incidents_zones",
        "incidents",
        ["zones"],
        postgresql_using="gin",
        postgresql_ops={"zones": "jsonb_path_ops"},
    )
    op.add_column("webhook_subscriptions", sa.Column("zones", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_subscriptions", "zones")
    op.drop_index("ix_incidents_zones", table_name="incidents")
    op.drop_column("incidents", "zones")
    op.drop_column("frame_scores", "zones")
    op.drop_index("ix_camera_regions_camera", table_name="camera_regions")
    op.drop_table("camera_regions")
