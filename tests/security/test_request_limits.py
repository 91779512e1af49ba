"""Issue 16, medium/low: bounded work per request (body size and auth before the body, list and
URL lengths, score curves thinned in SQL, frame sizes checked before decoding), rate limits,
security headers, token expiry, file cameras only under the media folder, no absolute paths,
errors that are 4xx with the right field instead of 500."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from api.security import hash_token
from api.tokens import create_token
from db import camera_queries, incident_queries, token_queries
from db.models import FrameScore, Incident, Window
from db.session import transaction
from ingest.publisher import FramePublisher
from ingest.settings import IngestConfig
from service.infra import open_log
from vad.codec import MAX_FRAME_PIXELS, decode_jpeg, encode_jpeg, jpeg_size

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


# --- bodies: auth first, size bounded ---------------------------------------------------------


@pytest.mark.integration
def test_big_body_without_token_is_refused_before_it_is_read(api):
    consumed = []

    def body():
        for _ in range(50):
            consumed.append(1)
            yield b"x" * 1_000_000

    response = api.send("POST", "/cameras", token=None, content=body())
    assert response.status_code == 401
    assert len(consumed) <= 1  # the transport may have pulled the first chunk, no more


@pytest.mark.integration
def test_body_over_the_limit_is_413_with_or_without_content_length(api):
    big = b'{"name": "a", "url": "' + b"x" * 1_200_000 + b'"}'
    assert api.send("POST", "/cameras", content=big).status_code == 413
    chunked = api.send("POST", "/cameras", content=iter([big[:600_000], big[600_000:]]))
    assert chunked.status_code == 413


@pytest.mark.integration
def test_list_and_url_lengths_are_capped(api):
    names = [f"cam{i}" for i in range(70_000)]
    hook = api.send("POST", "/webhooks", json={"url": "https://a.example/", "cameras": names})
    assert hook.status_code == 422 and hook.json()["errors"][0]["field"] == "cameras"
    long_url = "https://a.example/" + "a" * 100_000
    too_long = api.send("POST", "/webhooks", json={"url": long_url})
    assert too_long.status_code in (413, 422)
    long_camera = api.send("POST", "/cameras", json={"name": "a", "url": "rtsp://h/" + "a" * 5000})
    assert long_camera.status_code == 422


@pytest.mark.integration
def test_invalid_json_names_the_body_not_a_character_position(api):
    response = api.send(
        "POST", "/cameras", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body"]


# --- headers, static files, paths -----------------------------------------------------------


@pytest.mark.integration
def test_json_responses_carry_nosniff_and_no_store(api):
    response = api.get("/cameras")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert api.get("/cameras", token=None).headers["x-content-type-options"] == "nosniff"


@pytest.mark.integration
def test_static_nul_name_is_404(api):
    assert api.get("/ui/static/%00.js", token=None).status_code == 404


@pytest.mark.integration
def test_stages_show_no_absolute_paths_to_readers(api):
    text = api.get("/system/stages").text
    assert str(api.settings.model_dir.resolve()) not in text


# --- tokens and rate limits ------------------------------------------------------------------


@pytest.mark.integration
def test_expired_token_is_refused(api):
    with transaction(api.pipeline.sessions) as session:
        secret = create_token(session, "short", "read", ttl_days=1)
        token = token_queries.token_by_hash(session, hash_token(secret))
        token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert api.get("/cameras", token=secret).status_code == 401


@pytest.mark.integration
def test_failed_token_checks_are_rate_limited(make_api):
    api = make_api(auth_failures_per_minute=5)
    codes = [api.get("/cameras", token="vad_wrong").status_code for _ in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    assert "retry-after" in api.get("/cameras", token="vad_wrong").headers


@pytest.mark.integration
def test_search_is_rate_limited_per_token(make_api):
    api = make_api(search_per_minute=2)
    codes = [
        api.get("/search", params={"q": "x", "moments": "false"}).status_code for _ in range(3)
    ]
    assert codes[2] == 429 and 429 not in codes[:2]


# --- file cameras ----------------------------------------------------------------------------


@pytest.mark.integration
def test_file_cameras_only_under_the_media_folder(make_api, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    api = make_api(media_dir=media)
    outside = tmp_path / "secret.txt"
    outside.write_text("not a video")
    answers = {
        path: api.send("POST", "/cameras", json={"name": "f", "url": path}).json()["detail"]
        for path in (str(outside), str(tmp_path / "missing.mp4"), "/etc/passwd")
    }
    assert len(set(answers.values())) == 1, answers  # existence is not revealed
    assert "media folder" in next(iter(answers.values()))


# --- score curves ----------------------------------------------------------------------------


@pytest.mark.integration
def test_score_curve_is_thinned_in_sql(api):
    with transaction(api.pipeline.sessions) as session:
        camera = camera_queries.add_camera(session, "long", "rtsp://10.0.0.1/x", None, False)
        window = Window(
            camera_id=camera.id, seq=0, topic="t", topic_id="tid", partition=0,
            first_offset=0, last_offset=11_999, n_frames=12_000, status="done",
            start_at=T0, end_at=T0 + timedelta(seconds=1200),
        )  # fmt: skip
        session.add(window)
        session.flush()
        session.bulk_save_objects(
            [
                FrameScore(
                    window_id=window.id,
                    camera_id=camera.id,
                    kafka_offset=i,
                    frame_index=i,
                    captured_at=T0 + timedelta(seconds=i / 10),
                    score=0.5,
                    ingested_at=T0,
                )  # fmt: skip
                for i in range(12_000)
            ]
        )
        incident = Incident(
            camera_id=camera.id, status="closed", started_at=T0,
            ended_at=T0 + timedelta(seconds=1200), peak_score=0.9, peak_at=T0, threshold=0.6,
            scorer="motion", first_window_seq=0, last_window_seq=0,
        )  # fmt: skip
        session.add(incident)
        session.flush()
        curve = incident_queries.score_curve(session, camera.id, T0, incident.ended_at, 100)
        incident_id = incident.id
    assert len(curve) == 100 and curve[-1][2] == 11_999 and curve[0][2] == 0
    detail = api.get(f"/incidents/{incident_id}").json()
    assert len(detail["score_curve"]) == 5000


# --- frame sizes -----------------------------------------------------------------------------


def _with_declared_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header claiming another size (what a hostile record does)."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[at + 9 :]


def test_oversized_frames_are_refused_before_decoding():
    small = encode_jpeg(np.zeros((48, 64, 3), np.uint8))
    assert jpeg_size(small) == (64, 48)
    huge = _with_declared_size(small, 20_000, 20_000)
    assert jpeg_size(huge) == (20_000, 20_000) and 20_000 * 20_000 > MAX_FRAME_PIXELS
    assert decode_jpeg(huge) is None
    tall = _with_declared_size(small, 64, 60_000)
    assert decode_jpeg(tall) is None


def test_publisher_caps_frame_height_as_well_as_width():
    publisher = FramePublisher.__new__(FramePublisher)
    publisher.config = IngestConfig(max_width=640)
    tall = np.zeros((5000, 100, 3), np.uint8)
    fitted = publisher.fit(tall)
    assert fitted.shape[0] <= 1280 and fitted.shape[1] <= 640
    assert cv2.imencode(".jpg", fitted)[0]


# --- log files -------------------------------------------------------------------------------


def test_log_files_are_not_world_readable(tmp_path):
    path = tmp_path / "logs" / "api.log"
    path.parent.mkdir()
    path.write_text("old\n")
    path.chmod(0o644)
    with open_log(path) as out:
        out.write(b"line\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
