"""Cameras: list with live status and counters, add (validated URL), update, remove."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from api.deps import AdminToken, AppSettings, ReadToken, Sessions
from api.errors import FieldError
from api.schemas import CameraIn, CameraOut, CameraPatch
from api.settings import ApiAppSettings
from db import camera_queries
from db.models import Camera
from db.session import transaction
from ingest.sources import validate_source_url
from vad.sampling import camera_rates

router = APIRouter(prefix="/cameras", tags=["cameras"])


# What a read token is told about a camera that is not online: the kind of problem, never what
# answered on which port (that would make cameras a port scanner for anyone with a read token).
GENERIC_REASON = "unavailable (details for admins and in the ingest log)"
_KINDS = ("address not allowed", "authentication failed", "stream not found", "service stopped")


def public_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    return next((kind for kind in _KINDS if reason.startswith(kind)), GENERIC_REASON)


def camera_out(camera: Camera, settings: ApiAppSettings, admin: bool = True) -> CameraOut:
    """The camera as the API shows it: URL redacted always, status detail to admins only."""
    seen = camera.kept_frames + camera.pruned_frames
    rates = camera_rates(settings.ingest.camera_fps(camera.fps), camera.source_fps)
    return CameraOut(
        id=camera.id,
        name=camera.name,
        url=camera.url,
        has_credentials=camera.url_sealed is not None,
        verify_tls=camera.verify_tls,
        enabled=camera.enabled,
        status=camera.status,
        status_reason=camera.status_reason if admin else public_reason(camera.status_reason),
        status_at=camera.status_at,
        fps=rates.setting,
        fps_setting=camera.fps,
        source_fps=rates.source,
        analysed_fps=round(rates.analysed, 3),
        analysis_stride=rates.stride,
        threshold=(
            camera.threshold
            if camera.threshold is not None
            else settings.incidents.default_threshold
        ),
        threshold_setting=camera.threshold,
        kept_frames=camera.kept_frames,
        pruned_frames=camera.pruned_frames,
        dropped_frames=camera.dropped_frames,
        pruned_ratio=round(camera.pruned_frames / seen, 4) if seen else None,
        created_at=camera.created_at,
    )


def _get(session, name: str) -> Camera:
    if "\x00" in name:  # PostgreSQL text cannot hold NUL, so no camera has such a name
        raise HTTPException(404, f"no camera named {name!r}")
    try:
        return camera_queries.get_camera(session, name)
    except camera_queries.CameraNotFound as error:
        raise HTTPException(404, str(error)) from None


@router.get("", response_model=list[CameraOut])
def list_cameras(sessions: Sessions, settings: AppSettings, caller: ReadToken) -> list[CameraOut]:
    with sessions() as session:
        return [camera_out(c, settings, caller.admin) for c in camera_queries.list_cameras(session)]


@router.get("/{name}", response_model=CameraOut)
def get_camera(
    name: str, sessions: Sessions, settings: AppSettings, caller: ReadToken
) -> CameraOut:
    with sessions() as session:
        return camera_out(_get(session, name), settings, caller.admin)


@router.post("", response_model=CameraOut, status_code=201)
def add_camera(
    body: CameraIn, request: Request, sessions: Sessions, settings: AppSettings, _: AdminToken
) -> CameraOut:
    """Connect a stream; the running service starts ingesting it within seconds. The address
    must pass the camera address policy (checked again at every connect); a file must be under
    the media folder."""
    try:
        url = validate_source_url(
            body.url,
            policy=request.app.state.camera_policy,
            media_dir=settings.security.media_dir,
            any_file=False,
        )
    except ValueError as error:
        raise FieldError("url", str(error)) from None
    with transaction(sessions) as session:
        try:
            camera = camera_queries.add_camera(
                session,
                body.name,
                url,
                body.fps,
                body.loop,
                enabled=body.enabled,
                box=request.app.state.secret_box,
                verify_tls=body.verify_tls,
            )
        except camera_queries.CameraExists as error:
            raise FieldError("name", str(error), status=409) from None
        camera.threshold = body.threshold
        session.flush()
        session.refresh(camera)
        return camera_out(camera, settings)


@router.patch("/{name}", response_model=CameraOut)
def update_camera(
    name: str, body: CameraPatch, sessions: Sessions, settings: AppSettings, _: AdminToken
) -> CameraOut:
    changes = body.model_dump(include=body.model_fields_set)
    with transaction(sessions) as session:
        camera = camera_queries.update_camera(session, _get(session, name), changes)
        return camera_out(camera, settings)


@router.delete("/{name}", status_code=204)
def remove_camera(name: str, sessions: Sessions, _: AdminToken) -> Response:
    """Disconnect a camera and delete its windows, scores and incidents."""
    with transaction(sessions) as session:
        session.delete(_get(session, name))
    return Response(status_code=204)
