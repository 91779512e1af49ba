"""Incidents: filtered, paginated, sorted list; detail with the score curve; key frame JPEG;
clip export from the frames retained in Kafka."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path as Folder
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse
from kafka.errors import KafkaError
from starlette.background import BackgroundTask

from api.clips import ClipUnavailable, plan_clip, write_clip
from api.deps import AdminToken, AppSettings, ReadToken, Sessions, ZoneFilter
from api.errors import FieldError
from api.schemas import (
    FeedbackIn,
    FeedbackOut,
    FeedbackResultOut,
    IncidentDetail,
    IncidentOut,
    IncidentPage,
    ScorePoint,
    Stage2Out,
    Stage2WeightOut,
)
from db import incident_queries
from db import stage2 as s2
from db.incident_serializer import API, serialize_incident
from db.models import Incident
from feedback import verdicts as fb
from vad.clips import CONTAINERS, ClipFile
from vad.stage2.weight import weight_for

log = logging.getLogger(__name__)
router = APIRouter(prefix="/incidents", tags=["incidents"])

Sort = Literal[
    "started_at", "-started_at", "peak_score", "-peak_score", "ended_at", "-ended_at", "id", "-id"
]
MAX_CURVE_POINTS = 5000
# Ids are BIGINT: a larger number is a 422 naming the field, not a database error (500).
IncidentId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Incident id")]


def _aware(value: datetime | None) -> datetime | None:
    """Naive times are UTC: the service stores and reports UTC everywhere."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("", response_model=IncidentPage)
def list_incidents(
    sessions: Sessions,
    _: ReadToken,
    camera: Annotated[str | None, Query(description="Camera name")] = None,
    since: Annotated[datetime | None, Query(description="Active at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Started at or before (ISO 8601)")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1, description="Peak score at least")] = None,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    zone: ZoneFilter = None,
    text: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Case-insensitive substring of the camera name, rule or scorer",
        ),
    ] = None,
    sort: Annotated[Sort, Query(description="Field, '-' prefix = descending")] = "-started_at",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # BIGINT in SQL
) -> IncidentPage:
    since, until = _aware(since), _aware(until)
    if since and until and since > until:
        raise FieldError("until", "must not be before since", location="query")
    for field, value in (("camera", camera), ("text", text)):
        if value is not None and "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise FieldError(field, "must not contain NUL characters", location="query")
    search = incident_queries.IncidentSearch(
        camera=camera,
        since=since,
        until=until,
        min_score=min_score,
        status=status,
        zone=zone,
        text=text,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    with sessions() as session:
        rows, total = incident_queries.search_incidents(session, search)
        items = [
            IncidentOut(**serialize_incident(incident, camera, API, has_key_frame))
            for incident, camera, has_key_frame in rows
        ]
    return IncidentPage(items=items, total=total, limit=limit, offset=offset)


def _stage2_weight(session, camera_id: int, analyses, settings) -> Stage2WeightOut | None:
    """The camera's current weight for the LLM that analysed the incident's last window."""
    models = [a.llm for a in analyses if a.llm]
    if not models:
        return None
    folder = s2.model_folder(session, camera_id)
    weight = weight_for(folder and Folder(folder), models[-1], settings.stage2.fusion_weight)
    return Stage2WeightOut(**weight.to_dict())


@router.get("/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: IncidentId, sessions: Sessions, settings: AppSettings, _: ReadToken
) -> IncidentDetail:
    """One incident with its score curve (every scored frame of its camera from start to end),
    its stage-2 analyses and the weight their LLM has on this camera."""
    with sessions() as session:
        found = incident_queries.incident_detail(session, incident_id)
        if found is None:
            raise HTTPException(404, f"no incident {incident_id}")
        incident, camera, has_key_frame = found
        end = incident.ended_at if incident.status == "closed" else None
        curve = incident_queries.score_curve(
            session, incident.camera_id, incident.started_at, end, MAX_CURVE_POINTS
        )
        analyses = s2.for_incident(session, incident_id)
        stage2 = [Stage2Out.model_validate(a) for a in analyses]
        weight = _stage2_weight(session, incident.camera_id, analyses, settings)
        verdict = fb.feedback_of(session, incident_id)
    points = [ScorePoint(t=t, score=s, offset=o) for t, s, o in curve]
    return IncidentDetail(
        **serialize_incident(incident, camera, API, has_key_frame),
        score_curve=points,
        stage2=stage2,
        stage2_weight=weight,
        feedback=FeedbackOut(**verdict) if verdict else None,
        first_window_seq=incident.first_window_seq,
        last_window_seq=incident.last_window_seq,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
    )


@router.get(
    "/{incident_id}/clip.{container}",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}, "video/webm": {}}},
        404: {"description": "No such incident"},
        410: {"description": "The frames are no longer retained"},
        503: {"description": "Kafka is not configured, or too many clips are being exported"},
        504: {"description": "The Kafka log did not answer in time"},
    },
)
def clip(
    incident_id: IncidentId,
    container: Literal["mp4", "webm"],
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    _: ReadToken,
    pad_seconds: float = Query(5.0, ge=0, le=300, description="Seconds before and after."),
) -> FileResponse:
    """The incident ±pad_seconds from the frames retained in Kafka: `.mp4` (MPEG-4 Part 2, for
    video tools) or `.webm` (VP8, plays in browsers). At most `security.max_clip_seconds`
    (centred on the peak, `X-Clip-Truncated: true`); at most `security.clip_concurrency`
    exports at once (503 with Retry-After beyond)."""
    reader = request.app.state.frame_reader
    if reader is None:
        raise HTTPException(503, "clip export needs the Kafka log (VAD_KAFKA_BOOTSTRAP)")
    slots = request.app.state.clip_slots
    if not slots.acquire(blocking=False):
        raise HTTPException(
            503, "too many clip exports running; try again shortly", headers={"Retry-After": "5"}
        )
    try:
        plan, path = _export(
            incident_id, container, reader.bootstrap, sessions, settings, pad_seconds
        )
    finally:
        slots.release()
    headers = {"X-Clip-Truncated": "true"} if plan.truncated else {}
    return FileResponse(
        path,
        media_type=CONTAINERS[container][1],
        filename=f"incident-{incident_id}.{container}",
        headers=headers,
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


def _export(incident_id, container, bootstrap, sessions, settings, pad_seconds):
    """(plan, path of the encoded clip): errors mapped to 404/410/504/503."""
    with sessions() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            raise HTTPException(404, f"no incident {incident_id}")
        try:
            plan = plan_clip(session, incident, pad_seconds, settings.security.max_clip_seconds)
        except ClipUnavailable as gone:
            raise HTTPException(
                410, f"clip of incident {incident_id} unavailable: {gone}"
            ) from None
    encoded = ClipFile(plan.fps, container)
    try:
        write_clip(plan, bootstrap, encoded)
        return plan, encoded.finish()
    except ClipUnavailable as gone:
        encoded.discard()
        raise HTTPException(410, f"clip of incident {incident_id} unavailable: {gone}") from None
    except TimeoutError:
        encoded.discard()
        raise HTTPException(504, "the frame log did not answer in time; try again") from None
    except (KafkaError, OSError) as error:
        encoded.discard()
        log.warning("clip export of incident %s: %s", incident_id, error)
        raise HTTPException(503, "the frame log is unavailable; try again") from None
    except BaseException:
        encoded.discard()
        raise


@router.post(
    "/{incident_id}/feedback",
    response_model=FeedbackResultOut,
    responses={
        404: {"description": "No such incident"},
        409: {"description": "Cannot be applied (no model, frames gone): the reason"},
    },
)
def give_feedback(
    incident_id: IncidentId,
    body: FeedbackIn,
    request: Request,
    sessions: Sessions,
    settings: AppSettings,
    caller: AdminToken,
) -> FeedbackResultOut:
    """The operator's verdict. `false_alarm` adds the incident's frames to the camera's normal
    memory as a new model version (seconds; workers pick it up like any new model); a new
    verdict replaces the previous one (undoing its model version)."""
    reader = request.app.state.frame_reader
    try:
        result = fb.give_feedback(
            sessions, settings, reader, incident_id, body.verdict, body.note, caller.name
        )
    except fb.IncidentMissing as missing:
        raise HTTPException(404, str(missing)) from None
    except fb.FeedbackError as error:
        raise HTTPException(409, str(error)) from None
    return FeedbackResultOut(**vars(result))


@router.delete(
    "/{incident_id}/feedback",
    response_model=FeedbackResultOut,
    responses={404: {"description": "No such incident"}, 409: {"description": "Cannot undo"}},
)
def undo_feedback(incident_id: IncidentId, sessions: Sessions, _: AdminToken) -> FeedbackResultOut:
    """Undo the verdict: a false alarm's model version is retired, the previous one scores
    again."""
    try:
        result = fb.undo_feedback(sessions, incident_id)
    except fb.IncidentMissing as missing:
        raise HTTPException(404, str(missing)) from None
    except fb.FeedbackError as error:
        raise HTTPException(409, str(error)) from None
    return FeedbackResultOut(**vars(result))


@router.get(
    "/{incident_id}/key-frame.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "No key frame"}},
)
def key_frame(incident_id: IncidentId, sessions: Sessions, _: ReadToken) -> Response:
    with sessions() as session:
        jpeg = incident_queries.incident_key_frame(session, incident_id)
    if jpeg is None:
        raise HTTPException(404, f"no key frame for incident {incident_id}")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})
