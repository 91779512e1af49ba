"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from api import metrics
from api.deps import AppSettings, ReadToken, Sessions
from db import api_queries

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz() -> dict:
    """Liveness only (the process answers); the one route without a token."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(sessions: Sessions, _: ReadToken) -> dict:
    """Ready when the database answers (the token check itself already needed it)."""
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any database failure means "not ready"
        raise HTTPException(503, f"database unreachable: {type(error).__name__}") from None
    return {"status": "ready"}


@router.get("/metrics", response_class=PlainTextResponse)
def prometheus(sessions: Sessions, settings: AppSettings, _: ReadToken) -> PlainTextResponse:
    with sessions() as session:
        snapshot = api_queries.metrics_snapshot(session)
    return PlainTextResponse(
        metrics.render(snapshot, settings), media_type="text/plain; version=0.0.4"
    )


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, _: ReadToken) -> JSONResponse:
    return JSONResponse(request.app.openapi())
