"""Listing incidents with filters (the CLI and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Camera, Incident


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    camera: str | None = None
    since: datetime | None = None
    min_score: float | None = None
    status: str | None = None
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
    query = query.order_by(Incident.started_at.desc()).limit(flt.limit).offset(flt.offset)
    return [(incident, name) for incident, name in session.execute(query)]
