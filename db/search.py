"""Incident search by meaning: the `incident_texts` table, indexing, and the fused ranking.

Texts, one row per (incident, source): `description` is written by a trigger on `incidents`
(migration 0005); stage 2 and anything else that learns about an incident call
`index_incident_text` in their own transaction. A changed text clears its embedding;
`embed_pending` fills it later (the encoder is not needed where texts are written). An incident
ranks by its best-matching text.

Ranking: reciprocal rank fusion (Cormack et al. 2009) of two candidate lists, each cut to
`candidates`: nearest MiniLM embeddings (HNSW, cosine) and PostgreSQL full text
(`websearch_to_tsquery('english')`, `ts_rank_cd`). An incident scores sum(1 / (k + rank)) over
the lists it appears in; RRF needs no score calibration between the two, and a row not embedded
yet is still found by its words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Computed,
    DateTime,
    ForeignKey,
    String,
    Text,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import TSVECTOR, aggregate_order_by, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.models import Base, Camera, Incident
from db.regions import touches_zone

DIM = 384
# The trigger's template description ("Anomaly on camera X detected by Y. <rule>") is searched by
# its words only: embedding it would put thousands of near-identical vectors into the HNSW graph
# (measured at 100k incidents: search p50 1.5 s with them, see docs/benchmarks.md).
WORDS_ONLY = "description"


class IncidentText(Base):
    """One searchable text of an incident, its full-text vector and sentence embedding."""

    __tablename__ = "incident_texts"

    incident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    tsv = mapped_column(TSVECTOR, Computed("to_tsvector('english', body)"))
    embedding: Mapped[list[float] | None] = mapped_column(Vector(DIM))
    model: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def index_incident_text(session: Session, incident_id: int, source: str, body: str) -> None:
    """Set one text of an incident (source e.g. "caption", "summary", "explanation"); empty text
    removes it. Cheap and model-free: call it in the transaction that learned the text."""
    if not body.strip():
        session.execute(
            delete(IncidentText).where(
                IncidentText.incident_id == incident_id, IncidentText.source == source
            )
        )
        return
    row = insert(IncidentText).values(incident_id=incident_id, source=source, body=body)
    session.execute(
        row.on_conflict_do_update(
            index_elements=[IncidentText.incident_id, IncidentText.source],
            set_={"body": body, "embedding": None, "model": None, "updated_at": func.now()},
            where=IncidentText.body.is_distinct_from(body),
        )
    )


Pending = tuple[int, str, str]  # incident id, source, body


def pending(session: Session, limit: int) -> list[Pending]:
    """Texts whose embedding is missing, oldest incidents first."""
    stmt = (
        select(IncidentText.incident_id, IncidentText.source, IncidentText.body)
        .where(IncidentText.embedding.is_(None), IncidentText.source != WORDS_ONLY)
        .order_by(IncidentText.incident_id, IncidentText.source)
        .limit(limit)
    )
    return [(i, s, b) for i, s, b in session.execute(stmt)]


def store_embeddings(
    session: Session, rows: list[Pending], vectors: np.ndarray, model: str
) -> None:
    """Store only if the text is still the one embedded (it may have changed meanwhile)."""
    for (incident_id, source, body), vector in zip(rows, vectors, strict=True):
        session.execute(
            update(IncidentText)
            .where(
                IncidentText.incident_id == incident_id,
                IncidentText.source == source,
                IncidentText.body == body,
            )
            .values(embedding=np.asarray(vector, np.float32), model=model)
        )


def embed_pending(session: Session, embed, model: str, limit: int = 256) -> int:
    """Embed up to `limit` pending texts with `embed(list[str]) -> (N, 384)`; returns how many."""
    rows = pending(session, limit)
    if rows:
        store_embeddings(session, rows, embed([b for _, _, b in rows]), model)
    return len(rows)


@dataclass(frozen=True, slots=True)
class Filters:
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    zone: str | None = None  # incidents that touched this zone (moments: linked to one)

    @property
    def any(self) -> bool:
        return bool(self.camera or self.since or self.until or self.zone)


@dataclass(frozen=True, slots=True)
class IncidentHit:
    incident_id: int
    camera: str
    started_at: datetime
    ended_at: datetime | None
    score: float
    similarity: float | None
    text_rank: int | None
    vector_rank: int | None
    has_key_frame: bool
    body: str


def _restrict(stmt, filters: Filters):
    """Keep texts of incidents passing the filters. A semi-join, not a join: unfiltered queries
    stay a plain HNSW / GIN scan of `incident_texts`."""
    if not filters.any:
        return stmt
    wanted = select(Incident.id)
    if filters.camera:
        wanted = wanted.join(Camera, Camera.id == Incident.camera_id)
        wanted = wanted.where(Camera.name == filters.camera)
    if filters.since:
        wanted = wanted.where(func.coalesce(Incident.ended_at, func.now()) >= filters.since)
    if filters.until:
        wanted = wanted.where(Incident.started_at <= filters.until)
    if filters.zone:
        wanted = wanted.where(touches_zone(filters.zone))
    return stmt.where(IncidentText.incident_id.in_(wanted))


def vector_ranking(
    session: Session, query: np.ndarray, filters: Filters, limit: int, min_similarity: float
) -> list[tuple[int, float]]:
    """(incident id, cosine similarity) of the nearest embeddings, through the HNSW index.
    With filters, pgvector's iterative scan keeps going until `limit` rows pass them."""
    ef_search = max(40, min(1000, int(limit)))  # SET takes no bind parameters
    session.execute(text(f"SET LOCAL hnsw.ef_search = {ef_search}"))
    if filters.any:
        session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
    distance = IncidentText.embedding.cosine_distance(np.asarray(query, np.float32))
    nearest = _restrict(select(IncidentText.incident_id, distance.label("distance")), filters)
    nearest = nearest.where(IncidentText.embedding.is_not(None)).order_by(distance)
    nearest = nearest.limit(limit * 3).subquery()  # several texts may belong to one incident
    best = func.min(nearest.c.distance)
    stmt = select(nearest.c.incident_id, best).group_by(nearest.c.incident_id)
    hits = [(i, 1.0 - float(d)) for i, d in session.execute(stmt.order_by(best).limit(limit))]
    return [(i, s) for i, s in hits if s >= min_similarity]


def text_ranking(session: Session, words: str, filters: Filters, limit: int) -> list[int]:
    """Incident ids matching the words (web-search syntax: quotes, OR, -), best first."""
    query = func.websearch_to_tsquery("english", words)
    rank = func.max(func.ts_rank_cd(IncidentText.tsv, query))
    stmt = _restrict(select(IncidentText.incident_id), filters)
    stmt = stmt.where(IncidentText.tsv.op("@@")(query)).group_by(IncidentText.incident_id)
    stmt = stmt.order_by(rank.desc(), IncidentText.incident_id.desc()).limit(limit)
    return list(session.scalars(stmt))


def rrf(rankings: list[list[int]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion: id -> sum over rankings of 1 / (k + rank), rank from 1."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


@dataclass(frozen=True, slots=True)
class SearchRequest:
    words: str
    vector: np.ndarray | None
    filters: Filters
    limit: int = 20
    candidates: int = 100
    rrf_k: int = 60
    min_similarity: float = 0.2


def search_incidents(session: Session, request: SearchRequest) -> list[IncidentHit]:
    """The fused ranking, best first, at most `limit` incidents."""
    near = []
    if request.vector is not None:
        near = vector_ranking(
            session, request.vector, request.filters, request.candidates, request.min_similarity
        )
    words = text_ranking(session, request.words, request.filters, request.candidates)
    vector_ids = [i for i, _ in near]
    fused = rrf([vector_ids, words], request.rrf_k)
    best = sorted(fused, key=lambda i: (-fused[i], -i))[: request.limit]
    similarity = dict(near)
    vector_rank = {i: r for r, i in enumerate(vector_ids, start=1)}
    text_rank = {i: r for r, i in enumerate(words, start=1)}
    details = _details(session, best)
    return [
        IncidentHit(
            incident_id=i,
            camera=details[i][0],
            started_at=details[i][1],
            ended_at=details[i][2],
            score=fused[i],
            similarity=similarity.get(i),
            text_rank=text_rank.get(i),
            vector_rank=vector_rank.get(i),
            has_key_frame=bool(details[i][3]),
            body=details[i][4],
        )
        for i in best
        if i in details
    ]


def _details(session: Session, ids: list[int]) -> dict[int, tuple]:
    if not ids:
        return {}
    texts = (
        select(
            func.string_agg(
                IncidentText.body, aggregate_order_by(literal("\n"), IncidentText.source)
            )
        )
        .where(IncidentText.incident_id == Incident.id)
        .correlate(Incident)
        .scalar_subquery()
    )
    stmt = (
        select(
            Incident.id,
            Camera.name,
            Incident.started_at,
            Incident.ended_at,
            Incident.key_frame.is_not(None),
            texts,
        )
        .join(Camera, Camera.id == Incident.camera_id)
        .where(Incident.id.in_(ids))
    )
    return {row[0]: (*row[1:5], row[5] or "") for row in session.execute(stmt)}


def in_zone(session: Session, incident_ids: Iterable[int], zone: str) -> set[int]:
    """Those of the incidents that touched the zone."""
    ids = list({i for i in incident_ids if i is not None})
    if not ids:
        return set()
    return set(session.scalars(select(Incident.id).where(Incident.id.in_(ids), touches_zone(zone))))
