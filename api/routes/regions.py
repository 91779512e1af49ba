"""Masks and zones of a camera (vad.masks): polygons in normalised coordinates, listed with a read
token, drawn and removed with an admin token; and the camera's latest key frame to draw them on.

A mask hides part of the view from stage 1 and the detector; a zone is a named part of the view
that incidents, webhooks and search refer to. Running workers pick changes up within seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, Field

from api.deps import AdminToken, ReadToken, Sessions
from api.errors import FieldError
from api.routes.cameras import _get as get_camera
from api.schemas import _In
from db import regions
from db.models import CameraRegion
from db.session import transaction
from vad.masks import MAX_POINTS, MAX_ZONE_NAME, PolygonError, validate_polygon, validate_zone_name

router = APIRouter(prefix="/cameras/{name}", tags=["masks and zones"])
RegionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Polygon id")]
_POINTS = f"[[x, y], ...]: 3 to {MAX_POINTS} points, fractions of the frame's width and height"


class MaskIn(_In):
    points: list[Any] = Field(description=_POINTS)


class ZoneIn(_In):
    name: str = Field(min_length=1, max_length=MAX_ZONE_NAME, description="Zone name")
    points: list[Any] = Field(description=_POINTS)


class RegionOut(BaseModel):
    id: int
    kind: str = Field(description="mask | zone")
    zone: str | None = Field(description="The zone's name (null for a mask)")
    points: list[list[float]]
    created_at: datetime


def region_out(row: CameraRegion) -> RegionOut:
    return RegionOut(
        id=row.id, kind=row.kind, zone=row.zone, points=row.points, created_at=row.created_at
    )


def _polygon(points: list[Any]):
    try:
        return validate_polygon(points)
    except PolygonError as error:
        raise FieldError("points", str(error)) from None


def _list(sessions, name: str, kind: str) -> list[RegionOut]:
    with sessions() as session:
        camera = get_camera(session, name)
        return [region_out(r) for r in regions.list_regions(session, camera.id, kind)]


def _add(sessions, name: str, kind: str, points: list[Any], zone: str | None) -> RegionOut:
    polygon = _polygon(points)
    with transaction(sessions) as session:
        camera = get_camera(session, name)
        try:
            row = regions.add_region(session, camera.id, kind, polygon, zone)
        except regions.TooManyPolygons as error:
            raise FieldError("points", str(error), status=409) from None
        session.refresh(row)
        return region_out(row)


def _remove(sessions, name: str, kind: str, region_id: int | None) -> Response:
    with transaction(sessions) as session:
        camera = get_camera(session, name)
        removed = regions.remove_regions(session, camera.id, kind, region_id)
    if region_id is not None and not removed:
        raise HTTPException(404, f"camera {name!r} has no {kind} {region_id}")
    return Response(status_code=204)


@router.get("/masks", response_model=list[RegionOut])
def list_masks(name: str, sessions: Sessions, _: ReadToken) -> list[RegionOut]:
    return _list(sessions, name, "mask")


@router.post("/masks", response_model=RegionOut, status_code=201)
def add_mask(name: str, body: MaskIn, sessions: Sessions, _: AdminToken) -> RegionOut:
    """Hide a polygon of the view from stage 1 and the detector."""
    return _add(sessions, name, "mask", body.points, None)


@router.delete("/masks/{region_id}", status_code=204)
def remove_mask(name: str, region_id: RegionId, sessions: Sessions, _: AdminToken) -> Response:
    return _remove(sessions, name, "mask", region_id)


@router.delete("/masks", status_code=204)
def clear_masks(name: str, sessions: Sessions, _: AdminToken) -> Response:
    return _remove(sessions, name, "mask", None)


@router.get("/zones", response_model=list[RegionOut])
def list_zones(name: str, sessions: Sessions, _: ReadToken) -> list[RegionOut]:
    return _list(sessions, name, "zone")


@router.post("/zones", response_model=RegionOut, status_code=201)
def add_zone(name: str, body: ZoneIn, sessions: Sessions, _: AdminToken) -> RegionOut:
    """Add a polygon to a named zone (a zone may have several)."""
    try:
        zone = validate_zone_name(body.name)
    except PolygonError as error:
        raise FieldError("name", str(error)) from None
    return _add(sessions, name, "zone", body.points, zone)


@router.delete("/zones/{region_id}", status_code=204)
def remove_zone(name: str, region_id: RegionId, sessions: Sessions, _: AdminToken) -> Response:
    return _remove(sessions, name, "zone", region_id)


@router.get(
    "/key-frame.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "No key frame yet"}},
)
def latest_key_frame(name: str, sessions: Sessions, _: ReadToken) -> Response:
    """The key frame of the camera's latest incident: the view masks and zones are drawn on."""
    with sessions() as session:
        camera = get_camera(session, name)
        jpeg = regions.latest_key_frame(session, camera.id)
    if jpeg is None:
        raise HTTPException(404, f"camera {name!r} has no key frame yet (no incident)")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})
