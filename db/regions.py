"""Query functions of masks and zones (`camera_regions`, vad.masks) and of the zones incidents
touched. Polygons are validated by vad.masks before they get here."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.models import CameraRegion, FrameScore, Incident
from vad.masks import MAX_POLYGONS, CameraRegions, Polygon, PolygonError, RegionMask, Zone

KINDS = ("mask", "zone")


class TooManyPolygons(PolygonError):
    pass


def list_regions(session: Session, camera_id: int, kind: str) -> list[CameraRegion]:
    return list(
        session.scalars(
            select(CameraRegion)
            .where(CameraRegion.camera_id == camera_id, CameraRegion.kind == kind)
            .order_by(CameraRegion.zone, CameraRegion.id)
        )
    )


def add_region(
    session: Session, camera_id: int, kind: str, polygon: Polygon, zone: str | None = None
) -> CameraRegion:
    """Store one polygon; at most MAX_POLYGONS per camera and kind (TooManyPolygons)."""
    if kind not in KINDS or (kind == "zone") != (zone is not None):
        raise ValueError(f"a {kind} {'needs' if kind == 'zone' else 'has no'} zone name")
    count = session.scalar(
        select(func.count())
        .select_from(CameraRegion)
        .where(CameraRegion.camera_id == camera_id, CameraRegion.kind == kind)
    )
    if count >= MAX_POLYGONS:
        raise TooManyPolygons(
            f"a camera has at most {MAX_POLYGONS} {kind} polygons; remove one first"
        )
    region = CameraRegion(
        camera_id=camera_id, kind=kind, zone=zone, points=[list(p) for p in polygon]
    )
    session.add(region)
    session.flush()
    return region


def remove_regions(
    session: Session,
    camera_id: int,
    kind: str,
    region_id: int | None = None,
    zone: str | None = None,
) -> int:
    """Delete one polygon (by id), a whole zone (by name) or every polygon of the kind; returns
    how many were deleted."""
    stmt = delete(CameraRegion).where(
        CameraRegion.camera_id == camera_id, CameraRegion.kind == kind
    )
    if region_id is not None:
        stmt = stmt.where(CameraRegion.id == region_id)
    if zone is not None:
        stmt = stmt.where(CameraRegion.zone == zone)
    return session.execute(stmt).rowcount


def camera_regions(session: Session, camera_id: int) -> CameraRegions:
    """The camera's mask and zones, as the scoring path uses them."""
    rows = session.scalars(
        select(CameraRegion)
        .where(CameraRegion.camera_id == camera_id)
        .order_by(CameraRegion.zone, CameraRegion.id)
    ).all()
    mask = tuple(_polygon(r.points) for r in rows if r.kind == "mask")
    zones: dict[str, list[Polygon]] = {}
    for row in rows:
        if row.kind == "zone":
            zones.setdefault(row.zone, []).append(_polygon(row.points))
    return CameraRegions(RegionMask(mask), tuple(Zone(name, tuple(p)) for name, p in zones.items()))


def _polygon(points: list) -> Polygon:
    return tuple((float(x), float(y)) for x, y in points)


def incident_zones(session: Session, incident: Incident) -> list[str] | None:
    """The zones the incident touched: those of its frames scored at or over its threshold
    (from its start to its end, or to now while open). None when none of those frames was
    located (the camera had no zones)."""
    where = [
        FrameScore.camera_id == incident.camera_id,
        FrameScore.captured_at >= incident.started_at,
        FrameScore.score >= incident.threshold,
        FrameScore.zones.is_not(None),
    ]
    if incident.ended_at is not None:
        where.append(FrameScore.captured_at <= incident.ended_at)
    names = select(func.jsonb_array_elements_text(FrameScore.zones)).where(*where).distinct()
    found = session.scalars(names).all()
    if found:
        return sorted(found)
    any_located = session.scalar(select(FrameScore.id).where(*where).limit(1))
    return [] if any_located is not None else None


def touches_zone(zone):
    """SQL condition: the incident touched this zone (GIN index ix_incidents_zones). The one
    rule of "an incident touched a zone": the incident list and search pass a name, webhook
    subscriptions each name of their zone filter (`zone` a str or a SQL text expression)."""
    return Incident.zones.op("@>")(func.jsonb_build_array(zone))


def latest_key_frame(session: Session, camera_id: int) -> bytes | None:
    """The JPEG key frame of the camera's most recent incident that has one (what masks and
    zones are drawn on)."""
    return session.scalar(
        select(Incident.key_frame)
        .where(Incident.camera_id == camera_id, Incident.key_frame.is_not(None))
        .order_by(Incident.started_at.desc(), Incident.id.desc())
        .limit(1)
    )
