"""Request-scoped dependencies: the database and bearer-token auth.

Every route except /healthz depends on `require(...)`: read routes on `read`, mutations on
`admin`. Tokens are looked up by the SHA-256 of the presented secret.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.security import hash_token, scopes_allow
from db import api_queries
from db.session import transaction
from vad.config import Settings, WebhookConfig

bearer = HTTPBearer(auto_error=False, description="An API token from `vad token create`")


def get_sessions(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_webhook_config(request: Request) -> WebhookConfig:
    return request.app.state.webhooks


Sessions = Annotated[sessionmaker[Session], Depends(get_sessions)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def require(scope: str) -> Callable:
    """A dependency that admits a request only with a valid token holding `scope`."""

    def check(
        sessions: Sessions,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
        with transaction(sessions) as session:
            token = api_queries.token_by_hash(session, hash_token(credentials.credentials))
            if token is None:
                raise _unauthorized("invalid or revoked token")
            api_queries.touch_token(session, token.id)  # also on 403: it was used, by someone
            name, allowed = token.name, scopes_allow(token.scopes, scope)
        if not allowed:
            raise HTTPException(403, f"token {name!r} lacks the {scope!r} scope")
        return name

    return check


ReadToken = Annotated[str, Depends(require("read"))]
AdminToken = Annotated[str, Depends(require("admin"))]
