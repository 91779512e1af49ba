"""security: credentials encrypted at rest, per-camera TLS verification, token expiry (issue 16)

Revision ID: 0009
Revises: 0008

Camera URLs with credentials and webhook URLs with userinfo or a query keep only their redacted
form in `url`; the full URL moves, Fernet-encrypted, to `url_sealed`. Webhook secrets are
encrypted in place. The key is the service's key file (`security.key_file`, created 0600 if
missing); it is opened only when there are rows to encrypt.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _box():
    from db.secrets import SecretBox
    from service.settings import Settings

    key_file = context.config.attributes.get("key_file")
    return SecretBox.from_file(Path(key_file) if key_file else Settings().key_file())


def upgrade() -> None:
    op.add_column("cameras", sa.Column("url_sealed", sa.Text(), nullable=True))
    op.add_column(
        "cameras",
        sa.Column("verify_tls", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column("webhook_subscriptions", sa.Column("url_sealed", sa.Text(), nullable=True))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    _encrypt_existing(op.get_bind())


def _encrypt_existing(bind) -> None:
    from db.secrets import SEALED_PREFIX, seal_url
    from vad.urls import holds_secret

    cameras = [
        row
        for row in bind.execute(sa.text("SELECT id, url FROM cameras")).all()
        if holds_secret(row.url)
    ]
    hooks = bind.execute(sa.text("SELECT id, url, secret FROM webhook_subscriptions")).all()
    if not cameras and not hooks:
        return
    box = _box()
    for row in cameras:
        url, sealed = seal_url(box, row.url)
        bind.execute(
            sa.text("UPDATE cameras SET url = :url, url_sealed = :sealed WHERE id = :id"),
            {"url": url, "sealed": sealed, "id": row.id},
        )
    for row in hooks:
        url, sealed = seal_url(box, row.url, query=True)
        secret = row.secret if row.secret.startswith(SEALED_PREFIX) else box.seal(row.secret)
        bind.execute(
            sa.text(
                "UPDATE webhook_subscriptions SET url = :url, url_sealed = :sealed, "
                "secret = :secret WHERE id = :id"
            ),
            {"url": url, "sealed": sealed, "secret": secret, "id": row.id},
        )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, url_sealed FROM cameras WHERE url_sealed IS NOT NULL")
    ).all()
    hooks = bind.execute(
        sa.text("SELECT id, url, url_sealed, secret FROM webhook_subscriptions")
    ).all()
    if rows or hooks:
        box = _box()
        for row in rows:
            bind.execute(
                sa.text("UPDATE cameras SET url = :url WHERE id = :id"),
                {"url": box.open(row.url_sealed), "id": row.id},
            )
        for row in hooks:
            bind.execute(
                sa.text(
                    "UPDATE webhook_subscriptions SET url = :url, secret = :secret WHERE id = :id"
                ),
                {
                    "url": box.open(row.url_sealed) if row.url_sealed else row.url,
                    "secret": box.open(row.secret),
                    "id": row.id,
                },
            )
    op.drop_column("api_tokens", "expires_at")
    op.drop_column("webhook_subscriptions", "url_sealed")
    op.drop_column("cameras", "verify_tls")
    op.drop_column("cameras", "url_sealed")
