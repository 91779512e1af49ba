"""Moment search: training-free grounding over each camera's stored CLIP frame embeddings.

Per camera, the frame embeddings of the searched period are read in capture order
(`db.embedding_queries.frame_embeddings`) and grounded against the CLIP text embedding of the
query (`vad.grounding`); each moment is linked to an incident of that camera it overlaps, when
there is one, for the incident id and key frame (`db.moments`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from db.models import Camera
from db.moments import clip_model_id, overlapping_incident, searched_cameras
from db.search import Filters
from vad.grounding import ground
from vad.grounding.config import GroundingConfig


@dataclass(frozen=True, slots=True)
class MomentHit:
    camera: str
    start: datetime
    end: datetime
    score: float
    similarity: float
    incident_id: int | None
    has_key_frame: bool


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def camera_moments(
    session: Session,
    camera: Camera,
    model_id: int,
    query: np.ndarray,
    period: tuple[datetime, datetime | None],
    config: GroundingConfig,
    k: int,
) -> list[MomentHit]:
    from db.embedding_queries import frame_embeddings

    times, embeddings = frame_embeddings(session, model_id, camera.id, period[0], period[1])
    if not times:
        return []
    seconds = np.array([t.timestamp() for t in times])
    hits = []
    for moment in ground(query, embeddings, seconds, config, k=k):
        start, end = _utc(moment.start), _utc(moment.end)
        linked = overlapping_incident(session, camera.id, start, end)
        hits.append(
            MomentHit(
                camera=camera.name,
                start=start,
                end=end,
                score=moment.score,
                similarity=moment.peak,
                incident_id=linked[0] if linked else None,
                has_key_frame=linked[1] if linked else False,
            )
        )
    return hits


def search_moments(
    session: Session,
    model: tuple[str, int],
    query: np.ndarray,
    filters: Filters,
    config: GroundingConfig,
    per_camera: int,
    window: timedelta,
) -> list[MomentHit]:
    """Best moments over all (or the filtered) cameras, best first. `model` = (name, dim) of the
    CLIP encoder that embedded `query`; without stored embeddings of that model: none."""
    model_id = clip_model_id(session, *model)
    if model_id is None or per_camera <= 0:
        return []
    since = filters.since or (datetime.now(UTC) - window)
    hits: list[MomentHit] = []
    for camera in searched_cameras(session, filters.camera):
        hits += camera_moments(
            session, camera, model_id, query, (since, filters.until), config, per_camera
        )
    return sorted(hits, key=lambda h: -h.score)
