"""Encoder outputs in real PostgreSQL + pgvector: per-model HNSW index, exactly-once rows,
nearest-frame queries on real Ped2 frames with the tiny CLIP, the worker hook and incident rule."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from db import embedding_queries as eq
from db.models import Camera, Incident, Window
from db.session import transaction
from service.settings import Settings
from vad.types import Frame

pytestmark = pytest.mark.integration


@pytest.fixture
def sessions(db_sessions):
    return db_sessions


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    from tests.support.tiny_models import need_export_extra, tiny_clip_dir

    need_export_extra()

    return tiny_clip_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def frames(ped2) -> list[np.ndarray]:
    from vad.video import iter_video_frames

    video = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    return video[::15][:12]


def _camera_and_window(sessions, n: int) -> tuple[int, int]:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        camera = Camera(name=f"cam-{uuid.uuid4().hex[:6]}", url="file:///x.mp4")
        session.add(camera)
        session.flush()
        window = Window(
            camera_id=camera.id, seq=0, topic="frames", topic_id="t", partition=0,
            first_offset=0, last_offset=n - 1, n_frames=n, start_at=now, end_at=now,
        )  # fmt: skip
        session.add(window)
        session.flush()
        return camera.id, window.id


def _rows(model_id: int, embeds: np.ndarray) -> list[dict]:
    return [
        {
            "kafka_offset": i,
            "captured_at": datetime.fromtimestamp(1000 + i, UTC),
            "model_id": model_id,
            "embedding": e,
        }
        for i, e in enumerate(embeds)
    ]


def test_embeddings_stored_once_and_found_through_the_hnsw_index(sessions, tiny_clip, frames):
    from vad.encoders.clip import ClipEncoder

    encoder = ClipEncoder.load(tiny_clip)
    embeds = encoder.embed_images(frames)
    camera_id, window_id = _camera_and_window(sessions, len(frames))
    with transaction(sessions) as session:
        model_id = eq.register_model(session, encoder.name, "clip", encoder.dim, encoder.manifest)
        assert eq.register_model(session, encoder.name, "clip", encoder.dim, {}) == model_id
        for _ in range(2):  # a replayed window writes nothing twice
            eq.store_frame_outputs(session, window_id, camera_id, _rows(model_id, embeds), [], [])
    with sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM frame_embeddings")) == len(frames)
        index = session.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
            {"n": eq.hnsw_index_name(model_id)},
        )
        assert "hnsw" in index and f"vector({encoder.dim})" in index
        hits = eq.nearest_frames(session, model_id, encoder.dim, embeds[5], limit=3)
        assert hits[0].kafka_offset == 5 and hits[0].distance == pytest.approx(0, abs=1e-5)
        assert [h.distance for h in hits] == sorted(h.distance for h in hits)
        by_text = eq.nearest_frames(
            session, model_id, encoder.dim, encoder.embed_texts(["a bicycle"])[0], limit=4,
            camera_id=camera_id,
        )  # fmt: skip
        assert len(by_text) == 4
        times, stored = eq.frame_embeddings(session, model_id, camera_id)
        np.testing.assert_allclose(stored, embeds, atol=1e-6)
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = _explain(session, model_id, encoder.dim, embeds[0])
        assert eq.hnsw_index_name(model_id) in plan


def _explain(session, model_id: int, dim: int, vector: np.ndarray) -> str:
    literal = "[" + ",".join(f"{v:.6f}" for v in vector) + "]"
    rows = session.execute(
        text(
            f"EXPLAIN SELECT id FROM frame_embeddings WHERE model_id = {model_id} "
            f"ORDER BY embedding::vector({dim}) <=> '{literal}'::vector({dim}) LIMIT 5"
        )
    ).all()
    return "\n".join(r[0] for r in rows)


def test_models_of_different_dimensions_live_side_by_side(sessions) -> None:
    camera_id, window_id = _camera_and_window(sessions, 4)
    rng = np.random.default_rng(0)
    with transaction(sessions) as session:
        small = eq.register_model(session, "m8", "clip", 8, {})
        large = eq.register_model(session, "m16", "clip", 16, {})
        for model_id, dim in ((small, 8), (large, 16)):
            vectors = rng.normal(size=(4, dim)).astype(np.float32)
            eq.store_frame_outputs(session, window_id, camera_id, _rows(model_id, vectors), [], [])
    with sessions() as session:
        hits = eq.nearest_frames(session, large, 16, rng.normal(size=16), limit=10)
        assert len(hits) == 4  # only that model's rows, never a dimension mismatch
        indexes = session.scalars(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'frame_embeddings'")
        ).all()
        assert {eq.hnsw_index_name(small), eq.hnsw_index_name(large)} <= set(indexes)


def test_worker_hook_stores_outputs_fuses_scores_and_names_the_rule(
    sessions, tiny_clip, frames, tmp_path
) -> None:
    from workers.encoding import FrameEncoding

    model_dir = tmp_path / "models"
    shutil.copytree(tiny_clip, model_dir / "encoders" / "clip-vit-b32")
    settings = Settings(
        _env_file=None,
        model_dir=model_dir,
        zero_shot={"use_defaults": False, "normal_prompts": ["people walk"]},
    )
    camera_id, window_id = _camera_and_window(sessions, len(frames))
    with transaction(sessions) as session:
        eq.add_rule(session, camera_id, "anomaly", "a bicycle among pedestrians")
        eq.add_rule(session, camera_id, "normal", "people walking")
    encoding = FrameEncoding(settings, sessions)
    assert encoding.clip is not None and encoding.detector is None
    batch = [Frame(1, i, 1000.0 + i, f, offset=i) for i, f in enumerate(frames)]
    batch.append(Frame(1, 99, 1099.0, None, offset=len(frames), error="not a JPEG"))
    stage1 = np.zeros(len(batch))  # any zero-shot probability (> 0) beats it and fires
    stage1[0] = 0.999  # ... except here, where stage 1 stays
    stage1[-1] = np.nan
    encoded = encoding.encode(camera_id, batch, stage1)
    assert len(encoded.embeddings) == len(encoded.zero_shot) == len(frames)
    assert np.isnan(encoded.scores[-1])
    fired = [row["fired"] for row in encoded.zero_shot]
    assert fired == ["stage1"] + ["zero-shot"] * (len(frames) - 1)
    np.testing.assert_allclose(
        encoded.scores[1:-1], [row["probability"] for row in encoded.zero_shot[1:]], rtol=1e-6
    )
    with transaction(sessions) as session:
        window = session.get(Window, window_id)
        encoding.store(session, window, encoded)
        encoding.store(session, window, encoded)
    peak = 3  # a frame where the watch rule fired
    with transaction(sessions) as session:
        assert session.scalar(text("SELECT count(*) FROM frame_zero_shot")) == len(frames)
        incident = Incident(
            camera_id=camera_id, started_at=datetime.now(UTC), peak_score=1.0,
            peak_at=datetime.now(UTC), peak_offset=peak, threshold=0.5, rule="motion score",
            first_window_seq=0, last_window_seq=0,
        )  # fmt: skip
        session.add(incident)
        session.flush()
        encoding.annotate(session, incident)
        encoding.annotate(session, incident)  # idempotent on repeated events
    assert incident.rule == "motion score"  # what fired has its own column (migration 0008)
    assert incident.fired.startswith("watch rule 'a bicycle among pedestrians' (zero-shot p=")
    with transaction(sessions) as session:
        incident = session.get(Incident, incident.id)
        incident.peak_offset = 0
        encoding.annotate(session, incident)
    assert incident.rule == "motion score" and incident.fired == "stage-1 score"


def test_stored_detections_come_back_as_normality_features(sessions) -> None:
    from vad.encoders.features import feature_names

    camera_id, window_id = _camera_and_window(sessions, 2)
    person = {"class": "person", "confidence": 0.9, "box": [0.1, 0.2, 0.3, 0.6]}
    car = {"class": "vehicle", "confidence": 0.8, "box": [0.5, 0.5, 0.9, 0.7]}
    rows = [
        {"kafka_offset": i, "captured_at": datetime.fromtimestamp(1000 + i, UTC),
         "model": "yolo", "objects": objects, "counts": {}}
        for i, objects in enumerate([[person], [person, car]])
    ]  # fmt: skip
    with transaction(sessions) as session:
        eq.store_frame_outputs(session, window_id, camera_id, [], rows, [])
    with sessions() as session:
        times, features = eq.detection_features(session, camera_id)
    names = feature_names()
    assert len(times) == 2 and features.shape == (2, len(names))
    assert features[1, names.index("vehicle.count")] == 1
    assert features[0, names.index("person.mean_cy")] == pytest.approx(0.4)
