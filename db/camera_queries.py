"""Cameras: add, find, list, edit (the API), remove, and the status ingest reports for them.

Each query takes a Session and leaves transaction boundaries to the caller.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.clock import now_utc
from db.models import Camera
from db.secrets import SecretBox, seal_url
from vad.types import IngestReport


class CameraExists(ValueError):
    pass


class CameraNotFound(LookupError):
    pass


def add_camera(
    session: Session,
    name: str,
    url: str,
    fps: float | None,
    loop: bool,
    enabled: bool = True,
    *,
    box: SecretBox | None = None,
    verify_tls: bool = True,
) -> Camera:
    """A new camera; credentials in `url` are stored sealed with `box` (required then), and
    the clear `url` column keeps the redacted form."""
    if session.scalar(select(Camera).where(Camera.name == name)) is not None:
        raise CameraExists(f"a camera named {name!r} already exists")
    shown, sealed = seal_url(box, url)
    camera = Camera(
        name=name,
        url=shown,
        url_sealed=sealed,
        verify_tls=verify_tls,
        fps=fps,
        loop=loop,
        enabled=enabled,
        status="new",
    )
    session.add(camera)
    session.flush()
    return camera


def get_camera(session: Session, name: str) -> Camera:
    camera = session.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        raise CameraNotFound(f"no camera named {name!r} (see `vad camera list`)")
    return camera


def list_cameras(session: Session, enabled_only: bool = False) -> list[Camera]:
    query = select(Camera).order_by(Camera.name)
    if enabled_only:
        query = query.where(Camera.enabled.is_(True))
    return list(session.scalars(query))


def remove_camera(session: Session, name: str) -> None:
    session.delete(get_camera(session, name))


def apply_ingest_report(session: Session, report: IngestReport) -> None:
    values: dict = {
        "kept_frames": Camera.kept_frames + report.kept,
        "pruned_frames": Camera.pruned_frames + report.pruned,
        "dropped_frames": Camera.dropped_frames + report.dropped,
    }
    if report.resume_index is not None:
        values["resume_index"] = report.resume_index
    if report.source_fps is not None:
        values["source_fps"] = report.source_fps or None
    if report.analysed_fps is not None:
        values["analysed_fps"] = report.analysed_fps
    status_changed = (Camera.status != report.status) | (
        Camera.status_reason.is_distinct_from(report.reason)
    )
    session.execute(update(Camera).where(Camera.id == report.camera_id).values(**values))
    session.execute(
        update(Camera)
        .where(Camera.id == report.camera_id, status_changed)
        .values(status=report.status, status_reason=report.reason, status_at=now_utc())
    )


def update_camera(session: Session, camera: Camera, changes: dict) -> Camera:
    """Apply only the fields the client sent (None = back to the default)."""
    for key in ("fps", "threshold", "enabled", "verify_tls"):
        if key in changes:
            setattr(camera, key, changes[key])
    session.flush()
    return camera
