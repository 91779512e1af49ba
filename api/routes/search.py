"""Search by meaning: incidents ranked by their texts (MiniLM + full text, fused), and moments
found by grounding the query in the cameras' stored frame embeddings (when a CLIP encoder is
installed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from api.deps import ReadToken, Sessions, ZoneFilter
from api.errors import FieldError
from api.routes.incidents import _aware
from api.searcher import Searcher
from db.search import Filters
from db.session import transaction
from vad.text import TextModelError

router = APIRouter(prefix="/search", tags=["search"])


class IncidentMatch(BaseModel):
    incident_id: int
    camera: str
    started_at: datetime
    ended_at: datetime | None
    score: float = Field(description="Reciprocal rank fusion score (higher = better)")
    similarity: float | None = Field(description="Text cosine similarity; null = words only")
    vector_rank: int | None
    text_rank: int | None
    text: str = Field(description="The incident's indexed texts")
    key_frame_url: str | None


class MomentMatch(BaseModel):
    camera: str
    start: datetime
    end: datetime
    score: float = Field(description="Grounding score (static + dynamic term)")
    similarity: float = Field(description="Peak smoothed image-text similarity in the moment")
    incident_id: int | None = Field(description="An incident of the camera overlapping it")
    key_frame_url: str | None


class SearchOut(BaseModel):
    query: str
    incidents: list[IncidentMatch]
    moments: list[MomentMatch]
    moments_available: bool = Field(
        description="False when no CLIP encoder is installed: only incidents were searched"
    )


def _key_frame(incident_id: int | None, has: bool) -> str | None:
    return f"/incidents/{incident_id}/key-frame.jpg" if incident_id and has else None


def _searcher(request: Request) -> Searcher:
    state = request.app.state
    if getattr(state, "searcher", None) is None:
        state.searcher = Searcher(state.settings)
    return state.searcher


@router.get("", response_model=SearchOut)
def search(
    request: Request,
    sessions: Sessions,
    caller: ReadToken,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What happened, in words")],
    camera: Annotated[str | None, Query(max_length=100, description="Camera name")] = None,
    zone: ZoneFilter = None,
    since: Annotated[datetime | None, Query(description="Active at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Started at or before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    moments: Annotated[bool, Query(description="Also ground the query in frame embeddings")] = True,
) -> SearchOut:
    request.app.state.search_limiter.hit(caller.name)  # ~0.6 s of CPU each: 429 past budget
    since, until = _aware(since), _aware(until)
    if since and until and since > until:
        raise FieldError("until", "must not be before since", location="query")
    for name, value in (("q", q), ("camera", camera)):
        if value is not None and "\x00" in value:
            raise FieldError(name, "must not contain NUL characters", location="query")
    if not q.strip():
        raise FieldError("q", "must contain words", location="query")
    try:
        with transaction(sessions) as session:
            found = _searcher(request).search(
                session, q, Filters(camera, since, until, zone), limit, moments
            )
    except TextModelError as error:
        raise HTTPException(503, str(error)) from error
    return SearchOut(
        query=q,
        incidents=[
            IncidentMatch(
                incident_id=h.incident_id,
                camera=h.camera,
                started_at=h.started_at,
                ended_at=h.ended_at,
                score=h.score,
                similarity=h.similarity,
                vector_rank=h.vector_rank,
                text_rank=h.text_rank,
                text=h.body,
                key_frame_url=_key_frame(h.incident_id, h.has_key_frame),
            )
            for h in found.incidents
        ],
        moments=[
            MomentMatch(
                camera=m.camera,
                start=m.start,
                end=m.end,
                score=m.score,
                similarity=m.similarity,
                incident_id=m.incident_id,
                key_frame_url=_key_frame(m.incident_id, m.has_key_frame),
            )
            for m in found.moments
        ],
        moments_available=found.moments_available,
    )
