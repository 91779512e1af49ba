"""The REST API against a real PostgreSQL (one fresh database per test): auth, cameras,
incidents, validation, metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.tokens import create_token
from db import camera_queries, window_queries
from db.models import FrameScore, Incident
from db.session import transaction
from tests.support.pipeline import database_only, make_pipeline
from vad.types import IngestReport

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Api:
    def __init__(self, pipeline):
        self.pipeline = pipeline
        with transaction(pipeline.sessions) as session:
            self.admin = create_token(session, "admin", "admin")
            self.read = create_token(session, "viewer", "read")
        self.client = TestClient(create_app(pipeline.settings, pipeline.sessions))

    def get(self, path: str, token: str | None = "read", **kw):
        return self.client.get(path, headers=self._auth(token), **kw)

    def send(self, method: str, path: str, token: str | None = "admin", **kw):
        return self.client.request(method, path, headers=self._auth(token), **kw)

    def _auth(self, token: str | None) -> dict:
        if token is None:
            return {}
        secret = {"read": self.read, "admin": self.admin}.get(token, token)
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(request, infra, tmp_path) -> Iterator[Api]:
    """The API on a fresh database. The API reads PostgreSQL only (no frame reader here), so these
    tests run with the embedded broker alone; the Kafka-lag metric, which asks the broker, runs
    on both (test_metrics_rates_latency_stage2_and_kafka_lag)."""
    database_only(request)  # before the database is made
    pipeline = make_pipeline(infra, tmp_path)
    yield Api(pipeline)
    pipeline.close()


def add_camera(pipeline, name: str) -> int:
    with transaction(pipeline.sessions) as session:
        return camera_queries.add_camera(session, name, f"rtsp://10.0.0.1/{name}", None, False).id


def add_incident(
    pipeline,
    camera_id: int,
    start_min: float,
    minutes: float | None,
    peak: float,
    key_frame: bytes | None = None,
) -> int:
    started = T0 + timedelta(minutes=start_min)
    ended = started + timedelta(minutes=minutes) if minutes is not None else None
    with transaction(pipeline.sessions) as session:
        incident = Incident(
            camera_id=camera_id,
            status="closed" if ended else "open",
            started_at=started,
            ended_at=ended,
            peak_score=peak,
            peak_at=started,
            threshold=0.6,
            scorer="motion",
            first_window_seq=0,
            last_window_seq=0,
            key_frame=key_frame,
        )
        session.add(incident)
        session.flush()
        return incident.id


def test_only_healthz_answers_without_a_token(api):
    assert api.get("/healthz", token=None).json() == {"status": "ok"}
    for path in ("/readyz", "/cameras", "/incidents", "/webhooks", "/metrics", "/openapi.json"):
        response = api.get(path, token=None)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert api.get(path, token="vad_not_a_real_token").status_code == 401, path
        assert api.get(path).status_code == 200, path


def test_read_token_cannot_mutate_and_last_use_is_recorded(api):
    body = {"name": "lobby", "url": "rtsp://10.0.0.2/live"}
    response = api.send("POST", "/cameras", token="read", json=body)
    assert response.status_code == 403 and "admin" in response.json()["detail"]
    assert api.send("POST", "/cameras", token=None, json=body).status_code == 401
    assert api.pipeline.scalar("SELECT count(*) FROM cameras") == 0
    assert api.pipeline.scalar(
        "SELECT last_used_at IS NOT NULL FROM api_tokens WHERE name = 'viewer'"
    )
    stored = api.pipeline.scalar("SELECT token_hash FROM api_tokens WHERE name = 'viewer'")
    assert api.read not in stored and len(stored) == 64


def test_readyz_and_openapi(api):
    assert api.get("/readyz").json() == {"status": "ready"}
    spec = api.get("/openapi.json").json()
    assert "/incidents/{incident_id}" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_camera_crud(api, tmp_path):
    created = api.send(
        "POST",
        "/cameras",
        json={
            "name": "gate",
            "url": "RTSP://10.0.0.3:554/live",
            "fps": 5,
            "threshold": 0.7,
        },
    )
    assert created.status_code == 201, created.text
    cam = created.json()
    assert cam["url"].startswith("rtsp://") and cam["fps"] == 5 and cam["threshold"] == 0.7
    assert cam["status"] == "new" and cam["kept_frames"] == 0

    dup = api.send("POST", "/cameras", json={"name": "gate", "url": "rtsp://10.0.0.4/x"})
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "name"

    patched = api.send("PATCH", "/cameras/gate", json={"fps": None, "enabled": False})
    assert patched.status_code == 200, patched.text
    default_fps = api.pipeline.settings.ingest.default_fps
    assert patched.json()["fps"] == default_fps and patched.json()["fps_setting"] is None
    assert patched.json()["enabled"] is False and patched.json()["threshold"] == 0.7

    listed = api.get("/cameras").json()
    assert [c["name"] for c in listed] == ["gate"]
    assert api.send("DELETE", "/cameras/gate").status_code == 204
    assert api.get("/cameras").json() == []
    assert api.send("DELETE", "/cameras/gate").status_code == 404


def test_a_camera_shows_the_rate_it_is_analysed_at(api):
    """A 25 fps source set to 10 fps is analysed every 3rd frame: API, OpenAPI, metrics and
    `vad camera list` show 8.33 beside the setting, and a camera not yet connected the setting."""
    created = api.send("POST", "/cameras", json={"name": "gate", "url": "rtsp://10.0.0.3/live"})
    assert created.json()["source_fps"] is None and created.json()["analysis_stride"] is None
    assert created.json()["analysed_fps"] == created.json()["fps"]
    api.send("PATCH", "/cameras/gate", json={"fps": 10})
    report = IngestReport(created.json()["id"], "online", None, 0, 0, 0, None, source_fps=25.0)
    with transaction(api.pipeline.sessions) as session:
        camera_queries.apply_ingest_report(session, report)
    cam = api.get("/cameras/gate").json()
    assert (cam["fps"], cam["source_fps"], cam["analysed_fps"]) == (10, 25, 8.333)
    assert cam["analysis_stride"] == 3
    schema = api.get("/openapi.json").json()["components"]["schemas"]["CameraOut"]
    assert {"fps", "source_fps", "analysed_fps", "analysis_stride"} <= set(schema["properties"])
    text = api.get("/metrics").text
    assert 'vad_camera_source_fps{camera="gate"} 25.0' in text
    assert 'vad_camera_analysed_fps{camera="gate"} 8.33' in text
    listed = api.pipeline.vad("camera", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    row = json.loads(listed.stdout)[0]
    assert (row["fps"], row["source_fps"], row["analysed_fps"]) == (10, 25, 8.333)
    table = api.pipeline.vad("camera", "list").stdout.splitlines()
    assert table[0].split()[2:5] == ["FPS", "SOURCE", "ANALYSED"]
    assert table[1].split()[2:5] == ["10", "25", "8.33"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "url": "/no/such/video.mp4"}, "url"),
        ({"name": "a", "url": "ftp://x/y"}, "url"),
        ({"name": "a", "url": "rtsp://h/x", "fps": 0}, "fps"),
        ({"name": "a", "url": "rtsp://h/x", "threshold": 1.5}, "threshold"),
        ({"name": "bad name!", "url": "rtsp://h/x"}, "name"),
        ({"name": "a", "url": "rtsp://h/x", "colour": "red"}, "colour"),
        ({"url": "rtsp://h/x"}, "name"),
    ],
)
def test_camera_validation_names_the_field(api, body, field):
    response = api.send("POST", "/cameras", json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert field in response.json()["detail"]


def test_patch_validation(api):
    add_camera(api.pipeline, "lobby")
    response = api.send("PATCH", "/cameras/lobby", json={"threshold": -1})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "threshold"
    assert api.send("PATCH", "/cameras/nope", json={"fps": 2}).status_code == 404


def test_incident_filters_sort_and_pagination(api):
    lobby, gate = add_camera(api.pipeline, "lobby"), add_camera(api.pipeline, "gate")
    ids = {
        "a": add_incident(api.pipeline, lobby, 0, 1, 0.70),
        "b": add_incident(api.pipeline, lobby, 10, 2, 0.95),
        "c": add_incident(api.pipeline, gate, 20, 1, 0.80),
        "d": add_incident(api.pipeline, gate, 30, None, 0.65),
    }

    def listed(**params) -> list[int]:
        response = api.get("/incidents", params=params)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert listed() == [ids["d"], ids["c"], ids["b"], ids["a"]]
    assert listed(camera="lobby") == [ids["b"], ids["a"]]
    assert listed(min_score=0.8, sort="-peak_score") == [ids["b"], ids["c"]]
    assert listed(status="open") == [ids["d"]]
    assert listed(since=(T0 + timedelta(minutes=11)).isoformat()) == [ids["d"], ids["c"], ids["b"]]
    assert listed(until="2026-01-01T12:05:00", sort="started_at") == [ids["a"]]
    assert listed(sort="started_at", limit=2, offset=1) == [ids["b"], ids["c"]]
    page = api.get("/incidents", params={"limit": 1, "camera": "gate"}).json()
    assert page["total"] == 2 and page["limit"] == 1 and len(page["items"]) == 1
    assert page["items"][0]["camera"] == "gate" and page["items"][0]["key_frame_url"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_score": "high"}, "min_score"),
        ({"min_score": 2}, "min_score"),
        ({"status": "weird"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"limit": 0}, "limit"),
        ({"sort": "colour"}, "sort"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ],
)
def test_incident_query_validation_names_the_field(api, params, field):
    response = api.get("/incidents", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert response.json()["errors"][0]["location"] == "query"


def test_incident_detail_score_curve_and_key_frame(api):
    camera = add_camera(api.pipeline, "lobby")
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"
    incident = add_incident(api.pipeline, camera, 1, 1, 0.9, key_frame=jpeg)
    with transaction(api.pipeline.sessions) as session:
        window = window_queries.insert_window(
            session,
            camera_id=camera,
            topic="t",
            topic_id="tid",
            partition=0,
            first_offset=0,
            last_offset=39,
            context_offset=None,
            n_frames=40,
            start_at=T0.timestamp(),
            end_at=(T0 + timedelta(minutes=4)).timestamp(),
        )
        for n in range(40):  # one frame every 6 s over 4 minutes; the incident spans 1-2 min
            session.add(
                FrameScore(
                    window_id=window.id,
                    camera_id=camera,
                    kafka_offset=n,
                    frame_index=n,
                    captured_at=T0 + timedelta(seconds=6 * n),
                    ingested_at=T0,
                    score=n / 40 if n != 15 else None,
                    raw=0.0,
                )
            )
    detail = api.get(f"/incidents/{incident}").json()
    offsets = [p["offset"] for p in detail["score_curve"]]
    assert offsets == list(range(10, 21))
    assert detail["score_curve"][5]["score"] is None and detail["score_curve"][0]["score"] == 0.25
    assert detail["key_frame_url"] == f"/incidents/{incident}/key-frame.jpg"
    image = api.get(detail["key_frame_url"])
    assert image.status_code == 200 and image.content == jpeg
    assert image.headers["content-type"] == "image/jpeg"
    assert api.get("/incidents/999999").status_code == 404
    assert api.get("/incidents/999999/key-frame.jpg").status_code == 404
    assert api.get("/incidents/abc").json()["errors"][0]["field"] == "incident_id"


def test_metrics(api):
    camera = add_camera(api.pipeline, "lobby")
    with transaction(api.pipeline.sessions) as session:
        camera_queries.apply_ingest_report(
            session,
            IngestReport(camera, "online", None, kept=30, pruned=10, dropped=2, resume_index=None),
        )
    add_incident(api.pipeline, camera, 0, None, 0.9)
    response = api.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'vad_camera_frames_total{camera="lobby",fate="kept"} 30' in text
    assert 'vad_camera_frames_total{camera="lobby",fate="pruned"} 10' in text
    assert 'vad_camera_frames_total{camera="lobby",fate="dropped"} 2' in text
    assert 'vad_camera_up{camera="lobby",status="online"} 1' in text
    assert 'vad_incidents{status="open"} 1' in text
    assert 'vad_windows{status="failed"} 0' in text
    assert "vad_webhook_attempt_failures_total 0" in text


def test_webhook_subscriptions(api):
    add_camera(api.pipeline, "lobby")
    body = {
        "url": "https://hooks.example.com/vad",
        "cameras": ["lobby"],
        "min_score": 0.8,
        "events": ["incident.opened"],
    }
    assert api.send("POST", "/webhooks", token="read", json=body).status_code == 403
    created = api.send("POST", "/webhooks", json=body)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["incident.opened"]
    listed = api.get("/webhooks").json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    patched = api.send("PATCH", f"/webhooks/{hook['id']}", json={"enabled": False})
    assert patched.json()["enabled"] is False and patched.json()["min_score"] == 0.8
    assert api.get(f"/webhooks/{hook['id']}/deliveries").json() == []
    assert api.send("DELETE", f"/webhooks/{hook['id']}").status_code == 204
    assert api.get(f"/webhooks/{hook['id']}/deliveries").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://x.example/y"}, "url"),
        ({"url": "http://x.example/", "events": ["incident.exploded"]}, "events.0"),
        ({"url": "http://x.example/", "events": []}, "events"),
        ({"url": "http://x.example/", "min_score": -0.1}, "min_score"),
        ({"url": "http://x.example/", "secret": "short"}, "secret"),
        ({"url": "http://x.example/", "cameras": ["nope"]}, "cameras"),
    ],
)
def test_webhook_validation_names_the_field(api, body, field):
    response = api.send("POST", "/webhooks", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_incident_text_filter(api):
    lobby, gate = add_camera(api.pipeline, "Lobby-East"), add_camera(api.pipeline, "gate")
    a = add_incident(api.pipeline, lobby, 0, 1, 0.7)
    b = add_incident(api.pipeline, gate, 10, 1, 0.8)
    c = add_incident(api.pipeline, gate, 20, 1, 0.9)
    with transaction(api.pipeline.sessions) as session:
        session.get(Incident, b).rule = "motion score smoothed over 1s >= 0.6 for 2s"
        session.get(Incident, c).scorer = "normality_100%"

    def listed(**params) -> list[int]:
        response = api.get("/incidents", params=params)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert listed(text="lobby") == [a]  # camera name, case-insensitive
    assert listed(text="SMOOTHED over 1s") == [b]  # rule
    assert listed(text="NORMALITY") == [c]  # scorer
    assert listed(text="motion") == [b, a]  # rule of b, scorer of a and b (c's is normality)
    assert listed(text="100%") == [c] and listed(text="1_0") == []  # % and _ are literal
    assert listed(text="gate", min_score=0.85) == [c]
    assert api.get("/incidents", params={"text": "lobby"}).json()["total"] == 1
    for bad in ("", "x" * 201, "a\x00b"):
        response = api.get("/incidents", params={"text": bad})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "text"


def test_metrics_rates_latency_stage2_and_kafka_lag(pipeline):
    """Kept fps from the last minute's frame scores, pruned ratio, capture-to-scored latency
    quantiles, and per-partition lag against the real (embedded) Kafka log."""
    from kafka import KafkaProducer
    from sqlalchemy import update

    from db.models import DispatchProgress, Window
    from frames.reader import FrameReader

    camera = add_camera(pipeline, "lobby")
    add_camera(pipeline, "idle")
    now = datetime.now(UTC)
    with transaction(pipeline.sessions) as session:
        camera_queries.apply_ingest_report(
            session,
            IngestReport(camera, "online", None, kept=30, pruned=10, dropped=0, resume_index=None),
        )
        for n, latency in enumerate((2.0, 4.0, 30.0)):
            window = window_queries.insert_window(
                session,
                camera_id=camera,
                topic="t",
                topic_id="tid",
                partition=0,
                first_offset=n * 100,
                last_offset=n * 100 + 99,
                context_offset=None,
                n_frames=100,
                start_at=(now - timedelta(seconds=40)).timestamp(),
                end_at=(now - timedelta(seconds=latency)).timestamp(),
            )
            session.execute(
                update(Window).where(Window.id == window.id).values(status="done", scored_at=now)
            )
            # 12 frames in the last minute, 5 older ones. The newest 12 are all younger than
            # 36 s: "the last minute" is counted when /metrics is read, which a loaded machine
            # can delay by seconds (a frame 59 s old falls out after a 1 s stall).
            if n == 0:
                for i, age in enumerate([*range(2, 36, 3), 70, 80, 90, 100, 110]):
                    session.add(
                        FrameScore(
                            window_id=window.id,
                            camera_id=camera,
                            kafka_offset=i,
                            frame_index=i,
                            captured_at=now - timedelta(seconds=age),
                            ingested_at=now,
                            score=0.1,
                            raw=0.0,
                        )
                    )
        topic = pipeline.settings.kafka_topic
        for partition, position in ((0, 2), (1, 0)):
            session.add(
                DispatchProgress(
                    topic_id="tid",
                    partition=partition,
                    topic=topic,
                    position=position,
                    camera_last={},
                    camera_context={},
                )
            )
        session.add(  # an older incarnation of the log: its position is past the end
            DispatchProgress(topic_id="old", partition=1, topic=topic, position=999, camera_last={})
        )
    producer = KafkaProducer(bootstrap_servers=pipeline.endpoints.kafka_bootstrap, linger_ms=0)
    for i in range(5):  # one record per batch, like the ingest publisher
        producer.send(pipeline.settings.kafka_topic, b"frame %d" % i, partition=0).get(10)
    producer.close()

    with transaction(pipeline.sessions) as session:
        token = create_token(session, "viewer", "read")
    headers = {"Authorization": f"Bearer {token}"}
    reader = FrameReader(pipeline.endpoints.kafka_bootstrap)
    app = create_app(pipeline.settings, pipeline.sessions, frame_reader=reader)
    try:
        text = TestClient(app).get("/metrics", headers=headers).text
    finally:
        reader.close()
        app.state.lag_probe.close()
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values['vad_camera_kept_fps{camera="lobby"}'] == pytest.approx(12 / 60)
    assert values['vad_camera_kept_fps{camera="idle"}'] == 0
    assert values['vad_camera_pruned_ratio{camera="lobby"}'] == 0.25
    assert 'vad_camera_pruned_ratio{camera="idle"}' not in values  # no frames yet
    assert values['vad_window_latency_seconds{quantile="0.5"}'] == pytest.approx(4.0, abs=0.01)
    assert values['vad_window_latency_seconds{quantile="0.95"}'] == pytest.approx(27.4, abs=0.01)
    assert values['vad_window_latency_seconds{quantile="mean"}'] == pytest.approx(12.0, abs=0.01)
    assert values["vad_windows_scored_recent"] == 3
    assert values['vad_windows{status="done"}'] == 3
    assert values["vad_stage2_queue_depth"] == 0
    assert values['vad_stage2_analyses{status="skipped"}'] == 0
    # prometheus_client writes labels sorted by name
    lag = f'vad_kafka_lag_records{{partition="%d",topic="{topic}",topic_id="tid"}}'
    assert values[lag % 0] == 3 and values[lag % 1] == 0
    assert 'topic_id="old"' not in text


def test_metrics_without_kafka_have_no_lag_series(api):
    text = api.get("/metrics").text
    assert "vad_kafka_lag_records" not in text
    assert "vad_stage2_queue_depth 0" in text
    assert "vad_window_latency_seconds{" not in text  # no windows scored recently
    assert "vad_windows_scored_recent 0" in text
