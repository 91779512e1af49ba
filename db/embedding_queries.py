"""Reads and writes of encoder outputs (see db/embeddings.py for the schema and its index)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import cast, delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.embeddings import (
    EncoderModelRecord,
    FrameAppearance,
    FrameDetections,
    FrameEmbedding,
    FrameZeroShot,
    WatchRule,
)

RULE_KINDS = ("anomaly", "normal")


def hnsw_index_name(model_id: int) -> str:
    return f"ix_frame_embeddings_hnsw_m{model_id}"


def register_model(session: Session, name: str, kind: str, dim: int, info: dict) -> int:
    """The model's id, registering it (and creating its HNSW index) on first use.

    Serialised by an advisory lock so workers starting together create the index once."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name, dim)})
    session.execute(
        insert(EncoderModelRecord)
        .values(name=name, kind=kind, dim=dim, info=info)
        .on_conflict_do_nothing(constraint="uq_encoder_model")
    )
    model_id = session.scalar(
        select(EncoderModelRecord.id).where(
            EncoderModelRecord.name == name, EncoderModelRecord.dim == dim
        )
    )
    if kind == "clip" and dim > 0:
        session.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {hnsw_index_name(model_id)} ON frame_embeddings "
                f"USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops) "
                f"WHERE model_id = {int(model_id)}"
            )
        )
    return int(model_id)


def _lock_key(name: str, dim: int) -> int:
    return zlib.crc32(f"encoder-model:{name}:{dim}".encode())


def store_frame_outputs(
    session: Session,
    window_id: int,
    camera_id: int,
    embeddings: list[dict],
    detections: list[dict],
    zero_shot: list[dict],
    appearance: list[dict] = (),
) -> None:
    """Insert a window's per-frame encoder rows; a replayed window inserts nothing twice."""
    base = {"window_id": window_id, "camera_id": camera_id}
    for table, rows, constraint in (
        (FrameEmbedding, embeddings, "uq_frame_embedding"),
        (FrameDetections, detections, "uq_frame_detections"),
        (FrameZeroShot, zero_shot, "uq_frame_zero_shot"),
        (FrameAppearance, appearance, "uq_frame_appearance"),
    ):
        if rows:
            session.execute(
                insert(table).on_conflict_do_nothing(constraint=constraint),
                [{**row, **base} for row in rows],
            )


@dataclass(frozen=True, slots=True)
class FrameHit:
    """A stored frame close to a query vector (cosine distance, 0 = same direction)."""

    camera_id: int
    window_id: int
    kafka_offset: int
    captured_at: datetime
    distance: float


def nearest_frames(
    session: Session,
    model_id: int,
    dim: int,
    query: np.ndarray,
    limit: int = 10,
    camera_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[FrameHit]:
    """The `limit` frames nearest to `query` for one model, through that model's HNSW index.

    Extra filters (camera, time) are applied to the index's candidates; with very selective
    filters raise `hnsw.ef_search` or use pgvector's iterative scans."""
    distance = cast(FrameEmbedding.embedding, Vector(dim)).cosine_distance(
        np.asarray(query, np.float32)
    )
    stmt = select(
        FrameEmbedding.camera_id,
        FrameEmbedding.window_id,
        FrameEmbedding.kafka_offset,
        FrameEmbedding.captured_at,
        distance.label("distance"),
    ).where(FrameEmbedding.model_id == model_id)
    if camera_id is not None:
        stmt = stmt.where(FrameEmbedding.camera_id == camera_id)
    if since is not None:
        stmt = stmt.where(FrameEmbedding.captured_at >= since)
    if until is not None:
        stmt = stmt.where(FrameEmbedding.captured_at < until)
    rows = session.execute(stmt.order_by(distance).limit(limit)).all()
    return [FrameHit(*row[:4], float(row[4])) for row in rows]


def frame_embeddings(
    session: Session,
    model_id: int,
    camera_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[datetime], np.ndarray]:
    """A camera's stored embeddings in capture order (for grounding curves)."""
    stmt = select(FrameEmbedding.captured_at, FrameEmbedding.embedding).where(
        FrameEmbedding.model_id == model_id, FrameEmbedding.camera_id == camera_id
    )
    if since is not None:
        stmt = stmt.where(FrameEmbedding.captured_at >= since)
    if until is not None:
        stmt = stmt.where(FrameEmbedding.captured_at < until)
    rows = session.execute(stmt.order_by(FrameEmbedding.captured_at)).all()
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    return [r[0] for r in rows], np.stack([np.asarray(r[1], np.float32) for r in rows])


def zero_shot_at(session: Session, camera_id: int, kafka_offset: int) -> FrameZeroShot | None:
    """The latest zero-shot row of a camera's frame (what decided an incident's peak)."""
    return _latest_frame_row(session, FrameZeroShot, camera_id, kafka_offset)


def detections_at(session: Session, camera_id: int, kafka_offset: int) -> FrameDetections | None:
    """The latest detection row of a camera's frame (with its object-model verdict)."""
    return _latest_frame_row(session, FrameDetections, camera_id, kafka_offset)


def appearance_at(session: Session, camera_id: int, kafka_offset: int) -> FrameAppearance | None:
    """The latest appearance-model row of a camera's frame."""
    return _latest_frame_row(session, FrameAppearance, camera_id, kafka_offset)


def _latest_frame_row(session: Session, table, camera_id: int, kafka_offset: int):
    return session.scalar(
        select(table)
        .where(table.camera_id == camera_id, table.kafka_offset == kafka_offset)
        .order_by(table.id.desc())
        .limit(1)
    )


# --- watch rules ----------------------------------------------------------------------------------


def add_rule(session: Session, camera_id: int, kind: str, sentence: str) -> bool:
    """Add a sentence; False if the camera already has it."""
    if kind not in RULE_KINDS:
        raise ValueError(f"rule kind must be one of {RULE_KINDS}, not {kind!r}")
    sentence = " ".join(sentence.split())
    if not sentence:
        raise ValueError("a watch rule needs some words")
    result = session.execute(
        insert(WatchRule)
        .values(camera_id=camera_id, kind=kind, text=sentence)
        .on_conflict_do_nothing(constraint="uq_watch_rule")
    )
    return bool(result.rowcount)


def remove_rule(session: Session, camera_id: int, sentence: str | None = None) -> int:
    """Remove one sentence (any kind), or all of the camera's rules when `sentence` is None."""
    stmt = delete(WatchRule).where(WatchRule.camera_id == camera_id)
    if sentence is not None:
        stmt = stmt.where(WatchRule.text == " ".join(sentence.split()))
    return session.execute(stmt).rowcount


def camera_rules(session: Session, camera_id: int) -> dict[str, list[str]]:
    """{'anomaly': [...], 'normal': [...]} in the order they were added."""
    rows = session.execute(
        select(WatchRule.kind, WatchRule.text)
        .where(WatchRule.camera_id == camera_id)
        .order_by(WatchRule.id)
    ).all()
    out: dict[str, list[str]] = {kind: [] for kind in RULE_KINDS}
    for kind, sentence in rows:
        out[kind].append(sentence)
    return out


def detection_features(
    session: Session,
    camera_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[datetime], np.ndarray]:
    """A camera's stored detections as normality features (vad.encoders.features), in capture
    order: what a normality model fits on and scores against."""
    from vad.encoders.detectors import Detection
    from vad.encoders.features import window_features

    stmt = select(FrameDetections.captured_at, FrameDetections.objects).where(
        FrameDetections.camera_id == camera_id
    )
    if since is not None:
        stmt = stmt.where(FrameDetections.captured_at >= since)
    if until is not None:
        stmt = stmt.where(FrameDetections.captured_at < until)
    rows = session.execute(stmt.order_by(FrameDetections.captured_at)).all()
    frames = [
        [Detection(o["class"], float(o["confidence"]), tuple(o["box"])) for o in objects]
        for _, objects in rows
    ]
    return [r[0] for r in rows], window_features(frames)
