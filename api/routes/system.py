"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text

from api import metrics
from api.deps import AppSettings, ReadToken, Sessions
from db import metrics_queries
from frames.lag import LagProbe, partition_lag

log = logging.getLogger(__name__)

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
def prometheus(
    request: Request, sessions: Sessions, settings: AppSettings, _: ReadToken
) -> Response:
    def read() -> tuple[dict, list | None]:
        with sessions() as session:
            snapshot = metrics_queries.metrics_snapshot(session)
        return snapshot, _kafka_lag(request, snapshot["dispatch_positions"])

    body = metrics.exposition(metrics.DatabaseCollector(read, settings))
    return Response(body, media_type=metrics.CONTENT_TYPE)


def _kafka_lag(request: Request, positions: list) -> list | None:
    """Per-partition lag when the app reads Kafka (it has a frame reader); None otherwise, or
    when the broker does not answer in time (the scrape still succeeds, without lag series)."""
    reader = request.app.state.frame_reader
    if reader is None:
        return None
    probe = getattr(request.app.state, "lag_probe", None)
    if probe is None:
        probe = request.app.state.lag_probe = LagProbe(reader.bootstrap)
    try:
        ends = probe.end_offsets((topic, partition) for topic, _, partition, _ in positions)
    except Exception as error:  # noqa: BLE001 - a metrics scrape must not fail on Kafka
        log.warning("kafka lag unavailable: %s", error)
        return None
    return partition_lag(positions, ends)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, _: ReadToken) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/system/stages")
def stages(settings: AppSettings, sessions: Sessions, caller: ReadToken) -> dict:
    """Optional stages (embeddings, zero-shot, detector): on, or off with the command that turns
    them on (`vad models pull NAME && vad models export NAME`); and per camera the weight each
    calibrated stage-2 LLM has (0 = explanations only, with why). Paths are shown relative to
    the model folder (`$VAD_MODEL_DIR`): where the service lives on disk is not a reader's
    business."""
    return {
        **stage_report(settings, caller),
        "stage2_weights": _stage2_weights(sessions, settings),
    }


def stage_report(settings: AppSettings, caller: ReadToken) -> dict:
    """The model folder (admins only) and each optional stage: on, or off and why."""
    from vad.encoders.registry import stage_status

    return {
        "model_dir": str(settings.model_dir) if caller.admin else "$VAD_MODEL_DIR",
        "stages": [
            {
                "stage": s.stage,
                "model": s.model,
                "on": s.on,
                "reason": _relative(s.reason, settings),
            }
            for s in stage_status(settings)
        ],
    }


def _stage2_weights(sessions, settings: AppSettings) -> list[dict]:
    """Per camera and calibrated LLM: its fusion weight and why (`vad stage2 status` says the
    same)."""
    from pathlib import Path

    from db.stage2 import model_folders
    from vad.stage2.weight import weights_in

    with sessions() as session:
        folders = model_folders(session)
    max_weight = settings.stage2.fusion_weight
    return [
        {"camera": camera, **w.to_dict()}
        for camera, folder in folders
        for w in weights_in(Path(folder) if folder else None, max_weight)
    ]


def _relative(text: str | None, settings: AppSettings) -> str | None:
    """`text` with the model folder (absolute or as configured) written as $VAD_MODEL_DIR."""
    if not text:
        return text
    for folder in sorted({str(settings.model_dir.resolve()), str(settings.model_dir)}, key=len)[
        ::-1
    ]:
        text = text.replace(folder, "$VAD_MODEL_DIR")
    return text
