"""Moment search end to end: tiny-CLIP embeddings of real Ped2 frames stored in PostgreSQL
(issue 5's frame_embeddings), grounded by `vad search`'s Searcher, linked to the incident they
overlap, and served by `GET /search`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.searcher import Searcher
from api.tokens import create_token
from db.models import Camera, Incident, Window
from db.search import Filters
from db.session import transaction
from service.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def sessions(db_sessions):
    return db_sessions


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    from tests.support.tiny_models import need_export_extra, tiny_clip_dir

    need_export_extra()
    folder = tmp_path / "models"
    (folder / "encoders").mkdir(parents=True)
    (folder / "encoders" / "tiny-clip").symlink_to(tiny_clip_dir(tmp_path / "build"))
    return folder


def store_footage(sessions, clip, ped2: Path, start: datetime) -> tuple[int, int]:
    """test_04 at 5 fps as camera 'walkway'; an incident from 6 s to 14 s with a key frame."""
    from db import embedding_queries as eq
    from vad.video import iter_video_frames

    frames = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))[::2]
    embeds = clip.embed_images(frames)
    with transaction(sessions) as session:
        camera = Camera(name="walkway", url="file:///test_04.mp4")
        session.add(camera)
        session.flush()
        window = Window(
            camera_id=camera.id, seq=0, topic="frames", topic_id="t", partition=0,
            first_offset=0, last_offset=len(frames) - 1, n_frames=len(frames),
            start_at=start, end_at=start + timedelta(seconds=18),
        )  # fmt: skip
        incident = Incident(
            camera_id=camera.id, status="closed", started_at=start + timedelta(seconds=6),
            ended_at=start + timedelta(seconds=14), peak_score=0.9, peak_at=start,
            threshold=0.6, scorer="motion", first_window_seq=0, last_window_seq=0,
            key_frame=b"\xff\xd8jpeg",
        )  # fmt: skip
        session.add_all([window, incident])
        session.flush()
        model_id = eq.register_model(session, clip.name, "clip", clip.dim, clip.manifest)
        rows = [
            {
                "kafka_offset": i,
                "captured_at": start + timedelta(seconds=i * 0.2),
                "model_id": model_id,
                "embedding": e,
            }
            for i, e in enumerate(embeds)
        ]
        eq.store_frame_outputs(session, window.id, camera.id, rows, [], [])
        return camera.id, incident.id


def test_moments_from_stored_frame_embeddings(sessions, model_dir, ped2):
    settings = Settings(
        _env_file=None,
        model_dir=model_dir,
        encoders={"clip": "tiny-clip"},
        grounding={"sigma_seconds": 0.5, "scales_seconds": (1, 2, 4, 8)},
        search={"moments_per_camera": 4},
    )
    searcher = Searcher(settings)
    clip = searcher.clip()
    assert clip is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    _, incident_id = store_footage(sessions, clip, ped2, start)
    with transaction(sessions) as session:
        found = searcher.search(session, "a bicycle on the walkway", Filters(), limit=10)
    assert found.moments_available and 1 <= len(found.moments) <= 4
    for moment in found.moments:
        assert moment.camera == "walkway"
        assert start <= moment.start < moment.end <= start + timedelta(seconds=18.2)
        overlaps = moment.start <= start + timedelta(
            seconds=14
        ) and moment.end >= start + timedelta(seconds=6)
        assert moment.incident_id == (incident_id if overlaps else None)
        assert moment.has_key_frame == overlaps
    with transaction(sessions) as session:  # a camera filter that matches nothing: no moments
        assert searcher.search(session, "bicycle", Filters(camera="lobby"), 5).moments == []
        old = Filters(since=start - timedelta(days=3), until=start - timedelta(days=2))
        assert searcher.search(session, "bicycle", old, 5).moments == []

    with transaction(sessions) as session:
        token = create_token(session, "viewer", "read")
    app = create_app(settings, sessions)
    app.state.searcher = searcher
    body = TestClient(app).get(
        "/search", params={"q": "a bicycle", "camera": "walkway"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()  # fmt: skip
    assert body["moments_available"] and body["moments"]
    linked = [m for m in body["moments"] if m["incident_id"]]
    for m in linked:
        assert m["key_frame_url"] == f"/incidents/{incident_id}/key-frame.jpg"
