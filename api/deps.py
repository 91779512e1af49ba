"""Request-scoped dependencies: the database and bearer-token auth.

Every route except /healthz depends on `require(...)`: read routes on `read`, mutations on
`admin`. Tokens are looked up by the SHA-256 of the presented secret. Failed checks count
against the client address (`security.auth_failures_per_minute`, then 429), so guessing tokens
is slow. Routes that show details only admins may see ask for the `Caller`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.errors import FieldError
from api.limits import RateLimiter
from api.security import hash_token, scopes_allow
from api.settings import ApiAppSettings
from db import token_queries
from db.session import transaction
from vad.masks import PolygonError, validate_zone_name
from webhooks.settings import WebhookConfig

bearer = HTTPBearer(auto_error=False, description="An API token from `vad token create`")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made the request: the token's name and whether it may see admin details."""

    name: str
    admin: bool


def get_sessions(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


def get_settings(request: Request) -> ApiAppSettings:
    return request.app.state.settings


def get_webhook_config(request: Request) -> WebhookConfig:
    return request.app.state.webhooks


Sessions = Annotated[sessionmaker[Session], Depends(get_sessions)]
AppSettings = Annotated[ApiAppSettings, Depends(get_settings)]


def zone_filter(
    zone: Annotated[
        str | None,
        Query(max_length=200, description="Only incidents that touched this zone"),
    ] = None,
) -> str | None:
    """The `zone` query filter of the incident list and of search, read as zone names are
    stored (trimmed, printable): " road" finds the zone "road", a blank or control-character
    name is a 422 naming `zone` instead of an empty result."""
    if zone is None:
        return None
    try:
        return validate_zone_name(zone)
    except PolygonError as error:
        raise FieldError("zone", str(error), location="query") from None


ZoneFilter = Annotated[str | None, Depends(zone_filter)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def client_key(request: Request) -> str:
    return request.client.host if request.client else "?"


def authenticate(
    sessions: sessionmaker[Session],
    failures: RateLimiter,
    client: str,
    authorization: str | None,
) -> tuple[str, list[str]]:
    """(token name, scopes) of a valid `Authorization: Bearer ...` header; 401 otherwise, 429
    once this client failed too often. Used by `require` and by the body guard, which checks
    the token before a body is read."""
    if failures.blocked(client):
        failures.hit(client)  # raises 429 with Retry-After
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        failures.hit(client)
        raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
    with transaction(sessions) as session:
        token = token_queries.token_by_hash(session, hash_token(secret.strip()))
        if token is None:
            failures.hit(client)
            raise _unauthorized("invalid, expired or revoked token")
        token_queries.touch_token(session, token.id)  # also on 403: it was used, by someone
        return token.name, list(token.scopes)


def require(scope: str) -> Callable:
    """A dependency that admits a request only with a valid token holding `scope`."""

    def check(
        request: Request,
        sessions: Sessions,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        failures = request.app.state.auth_failures
        name, scopes = authenticate(sessions, failures, client_key(request), header)
        if not scopes_allow(scopes, scope):
            raise HTTPException(403, f"token {name!r} lacks the {scope!r} scope")
        return Caller(name, scopes_allow(scopes, "admin"))

    return check


ReadToken = Annotated[Caller, Depends(require("read"))]
AdminToken = Annotated[Caller, Depends(require("admin"))]
