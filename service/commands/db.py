"""`vad db upgrade`: apply Alembic migrations (production deploys run it once before the rest)."""

from __future__ import annotations

import typer

from db.session import upgrade_database
from service.context import fail, get_context

app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the schema to the newest migration."""
    settings = get_context(ctx).settings
    if not settings.database_url:
        fail("set VAD_DATABASE_URL (the embedded stack upgrades itself on `vad up`)")
    upgrade_database(settings.database_url, settings.key_file())
    typer.echo("database schema is up to date")
