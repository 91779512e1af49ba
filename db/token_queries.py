"""API tokens: created by `vad token`, checked (by hash) on every API request, revoked by name."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.api_models import ApiToken
from db.clock import now_utc


class TokenExists(ValueError):
    pass


def add_token(
    session: Session,
    name: str,
    token_hash: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> ApiToken:
    if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
        raise TokenExists(f"a token named {name!r} already exists")
    token = ApiToken(name=name, token_hash=token_hash, scopes=scopes, expires_at=expires_at)
    session.add(token)
    session.flush()
    return token


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    """The token with this hash, unless it has expired."""
    return session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == token_hash,
            ApiToken.expires_at.is_(None) | (ApiToken.expires_at > func.now()),
        )
    )


def touch_token(session: Session, token_id: int, every: timedelta = timedelta(minutes=1)) -> None:
    """Record use at most once a minute, so reads do not turn into a write per request."""
    now = now_utc()
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < now - every),
        )
        .values(last_used_at=now)
    )


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))


def revoke_token(session: Session, name: str) -> bool:
    token = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        return False
    session.delete(token)
    return True
