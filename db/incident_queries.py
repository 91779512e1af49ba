"""Incidents as the CLI and the API read them: filtered lists, the API's sorted search with its
total, one incident's detail, key frame and score curve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session, defer

from db.models import Camera, Incident
from db.regions import touches_zone


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    camera: str | None = None
    since: datetime | None = None
    min_score: float | None = None
    status: str | None = None
    zone: str | None = None  # incidents that touched this zone
    limit: int = 100
    offset: int = 0


def query_incidents(session: Session, flt: IncidentFilter) -> list[tuple[Incident, str]]:
    query = select(Incident, Camera.name).join(Camera, Camera.id == Incident.camera_id)
    if flt.camera:
        query = query.where(Camera.name == flt.camera)
    if flt.since:
        query = query.where(func.coalesce(Incident.ended_at, func.now()) >= flt.since)
    if flt.min_score is not None:
        query = query.where(Incident.peak_score >= flt.min_score)
    if flt.status:
        query = query.where(Incident.status == flt.status)
    if flt.zone:
        query = query.where(touches_zone(flt.zone))
    query = query.order_by(Incident.started_at.desc()).limit(flt.limit).offset(flt.offset)
    return [(incident, name) for incident, name in session.execute(query)]


SORTS = {
    "started_at": Incident.started_at,
    "peak_score": Incident.peak_score,
    "ended_at": Incident.ended_at,
    "id": Incident.id,
}


@dataclass(frozen=True, slots=True)
class IncidentSearch:
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    status: str | None = None
    zone: str | None = None  # incidents that touched this zone
    text: str | None = None
    sort: str = "-started_at"
    limit: int = 50
    offset: int = 0


def search_incidents(
    session: Session, search: IncidentSearch
) -> tuple[list[tuple[Incident, str, bool]], int]:
    """A page of (incident, camera name, has key frame) overlapping [since, until], and the total.
    Key-frame bytes are not loaded: a page of 1000 incidents must not pull 1000 JPEGs."""
    where = []
    if search.camera:
        where.append(Camera.name == search.camera)
    if search.since:
        where.append(func.coalesce(Incident.ended_at, func.now()) >= search.since)
    if search.until:
        where.append(Incident.started_at <= search.until)
    if search.min_score is not None:
        where.append(Incident.peak_score >= search.min_score)
    if search.status:
        where.append(Incident.status == search.status)
    if search.zone:
        where.append(touches_zone(search.zone))
    if search.text:  # a literal, case-insensitive substring (no LIKE wildcards)
        needle = search.text.lower()
        cameras = select(Camera.id).where(func.strpos(func.lower(Camera.name), needle) > 0)
        where.append(
            or_(
                Incident.camera_id.in_(cameras.scalar_subquery()),
                func.strpos(func.lower(Incident.rule), needle) > 0,
                func.strpos(func.lower(Incident.scorer), needle) > 0,
            )
        )
    base = select(Incident, Camera.name, Incident.key_frame.is_not(None)).join(
        Camera, Camera.id == Incident.camera_id
    )
    column = SORTS[search.sort.lstrip("-")]
    order = column.desc() if search.sort.startswith("-") else column.asc()
    if search.sort == "-ended_at":  # the only nullable sort key: open incidents last.
        order = order.nulls_last()  # Not on the others: it would stop index scans (100k: 5x)
    query = (
        base.where(*where)
        .options(defer(Incident.key_frame))
        .order_by(order, Incident.id.desc())
        .limit(search.limit)
        .offset(search.offset)
    )
    total = session.scalar(
        select(func.count())
        .select_from(Incident)
        .join(Camera, Camera.id == Incident.camera_id)
        .where(*where)
    )
    return [(i, name, bool(has)) for i, name, has in session.execute(query)], int(total or 0)


def incident_detail(session: Session, incident_id: int) -> tuple[Incident, str, bool] | None:
    row = session.execute(
        select(Incident, Camera.name, Incident.key_frame.is_not(None))
        .join(Camera, Camera.id == Incident.camera_id)
        .where(Incident.id == incident_id)
        .options(defer(Incident.key_frame))
    ).first()
    return (row[0], row[1], bool(row[2])) if row else None


def incident_key_frame(session: Session, incident_id: int) -> bytes | None:
    return session.scalar(select(Incident.key_frame).where(Incident.id == incident_id))


_CURVE_SQL = text(
    """
    WITH ordered AS (
        SELECT captured_at, score, kafka_offset,
               row_number() OVER w AS rn, count(*) OVER () AS n, ntile(:buckets) OVER w AS bucket
        FROM frame_scores
        WHERE camera_id = :camera AND captured_at >= :start
          AND (CAST(:end AS timestamptz) IS NULL OR captured_at <= :end)
        WINDOW w AS (ORDER BY captured_at, kafka_offset)
    ), marked AS (
        SELECT *, row_number() OVER (PARTITION BY bucket ORDER BY rn) AS nth FROM ordered
    )
    SELECT captured_at, score, kafka_offset FROM marked
    WHERE n <= :limit OR nth = 1 OR rn = n
    ORDER BY rn
    """
)


def score_curve(
    session: Session,
    camera_id: int,
    start: datetime,
    end: datetime | None,
    limit: int = 5000,
) -> list[tuple[datetime, float | None, int]]:
    """(captured_at, score, offset) of the camera's frames in [start, end] (end None = now),
    thinned in SQL to at most `limit` evenly spaced points, the last one always kept: a
    day-long incident does not ship a million rows to the API to keep 5,000."""
    params = {"camera": camera_id, "start": start, "end": end, "limit": limit}
    rows = session.execute(_CURVE_SQL, {**params, "buckets": max(limit - 1, 1)})
    return [(t, s, o) for t, s, o in rows]
