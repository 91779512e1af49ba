"""`vad token create|list|revoke`: API tokens for the REST API and the dashboard."""

from __future__ import annotations

import typer

from api.tokens import create_token
from db import token_queries
from db.session import transaction
from service.context import fail, get_context

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name, e.g. who or what uses the token."),
    scope: str = typer.Option("read", "--scope", help="read, or admin (may also change things)."),
    expires_days: float = typer.Option(
        None,
        "--expires-days",
        min=0.001,
        help="Stop working after this many days (default: security.token_ttl_days, else never).",
    ),
) -> None:
    """Create a token and print its secret once; only its hash is stored."""
    app_ctx = get_context(ctx)
    ttl = expires_days or app_ctx.settings.security.token_ttl_days
    with transaction(app_ctx.sessions()) as session:
        try:
            secret = create_token(session, name, scope, ttl)
        except (ValueError, token_queries.TokenExists) as error:
            fail(str(error))
    typer.echo(secret)
    typer.secho(f"token {name!r} ({scope}) created; store it now, it is not shown again", err=True)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Tokens with their scopes and when they were last used (never their secrets)."""
    with get_context(ctx).sessions()() as session:
        tokens = token_queries.list_tokens(session)
    if not tokens:
        typer.echo("no tokens; create one with `vad token create NAME --scope admin`")
    for t in tokens:
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        expires = f", expires {t.expires_at.isoformat(timespec='seconds')}" if t.expires_at else ""
        typer.echo(f"{t.name:<24} {','.join(t.scopes):<12} last used {used}{expires}")


@app.command("revoke")
def revoke(ctx: typer.Context, name: str = typer.Argument(..., help="Token name.")) -> None:
    """Delete a token; requests carrying it get 401 from then on."""
    with transaction(get_context(ctx).sessions()) as session:
        if not token_queries.revoke_token(session, name):
            fail(f"no token named {name!r}")
    typer.echo(f"token {name!r} revoked")
