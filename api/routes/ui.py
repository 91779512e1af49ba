"""The web dashboard: a static single-page app plus the two small read routes it needs.

The HTML, CSS and JavaScript modules in `api/static/` are served without a token (they hold no
data); every data call the page makes carries `Authorization: Bearer <token>`, so the rules of
`api.deps` apply to the dashboard exactly as to any other client.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import ReadToken, Sessions
from api.errors import FieldError
from db import camera_queries
from db.models import FrameScore

router = APIRouter(tags=["dashboard"])

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
# The page talks only to its own origin; thumbnails arrive as blob: URLs (fetched with the token).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class SessionOut(BaseModel):
    name: str
    scopes: list[str]


class CameraScore(BaseModel):
    t: datetime
    score: float | None


class CameraScores(BaseModel):
    camera: str
    points: list[CameraScore]


def _static(name: str) -> FileResponse:
    if "\x00" in name or "/" in name or "\\" in name:  # NUL makes resolve() raise: a 404
        raise HTTPException(404, "no such dashboard file")
    path = (STATIC_DIR / name).resolve()
    if path.parent != STATIC_DIR or path.suffix not in MEDIA_TYPES or not path.is_file():
        raise HTTPException(404, f"no dashboard file {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=SECURITY_HEADERS)


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The dashboard page (no data in it: it asks for a token, then calls the API)."""
    return _static("index.html")


@router.get("/ui/static/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    return _static(name)


@router.get("/ui/session", response_model=SessionOut)
def whoami(caller: ReadToken) -> SessionOut:
    """The presented token's name and scopes: the dashboard's login check."""
    return SessionOut(name=caller.name, scopes=["read", "admin"] if caller.admin else ["read"])


@router.get("/cameras/{name}/scores", response_model=CameraScores, tags=["cameras"])
def camera_scores(
    name: str,
    sessions: Sessions,
    _: ReadToken,
    since: Annotated[
        datetime | None, Query(description="Only frames captured after this (ISO 8601)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=2000, description="At most this many, newest")] = 120,
) -> CameraScores:
    """The camera's most recent frame scores, oldest first (the dashboard's sparklines)."""
    if "\x00" in name:  # PostgreSQL text cannot hold NUL: no camera can be called that
        raise FieldError("name", "must not contain NUL characters", location="path")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with sessions() as session:
        try:
            camera = camera_queries.get_camera(session, name)
        except camera_queries.CameraNotFound as error:
            raise HTTPException(404, str(error)) from None
        query = (
            select(FrameScore.captured_at, FrameScore.score)
            .where(FrameScore.camera_id == camera.id)
            .order_by(FrameScore.captured_at.desc(), FrameScore.kafka_offset.desc())
            .limit(limit)
        )
        if since is not None:
            query = query.where(FrameScore.captured_at > since)
        rows = list(session.execute(query))
    rows.reverse()
    return CameraScores(camera=name, points=[CameraScore(t=t, score=s) for t, s in rows])
