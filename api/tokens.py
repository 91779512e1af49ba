"""Creating and revoking API tokens (used by `vad token`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from api.security import SCOPES, hash_token, new_token_secret
from db import token_queries
from db.clock import now_utc


def create_token(session: Session, name: str, scope: str, ttl_days: float | None = None) -> str:
    """Store a new token's hash and return its secret: the only time anyone sees it. With
    `ttl_days` the token stops working that many days from now."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("token name must be 1-100 characters")
    secret = new_token_secret()
    scopes = ["read", "admin"] if scope == "admin" else ["read"]
    expires = now_utc() + timedelta(days=ttl_days) if ttl_days else None
    token_queries.add_token(session, name, hash_token(secret), scopes, expires)
    return secret
