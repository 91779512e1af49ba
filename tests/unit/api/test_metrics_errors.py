"""Prometheus text rendering and the field named in 422 bodies."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi import FastAPI, Query
from fastapi.testclient import TestClient

from api import errors, metrics
from service.settings import Settings


def _camera(name: str, fps=None, source_fps=None, kept=0, pruned=0, dropped=0):
    """A camera row as the metrics snapshot holds it."""
    return SimpleNamespace(
        name=name,
        fps=fps,
        source_fps=source_fps,
        status="online",
        kept_frames=kept,
        pruned_frames=pruned,
        dropped_frames=dropped,
    )


def _snapshot(cameras, **counts) -> dict:
    empty = {"windows": {}, "incidents": {}, "deliveries": {}, "attempt_failures": 0}
    return {"cameras": cameras, **empty, **counts, "window_latency": None}


def test_metrics_render_counters_labels_and_zero_states():
    camera = _camera('lobby "1"', kept=10, pruned=5, dropped=1)
    snapshot = _snapshot([camera], windows={"done": 3}, deliveries={"dead": 2}, attempt_failures=7)
    text = metrics.render(snapshot, Settings(_env_file=None))
    assert 'vad_camera_frames_total{camera="lobby \\"1\\"",fate="pruned"} 5' in text
    assert 'vad_camera_fps{camera="lobby \\"1\\""} 10' in text
    assert 'vad_windows{status="failed"} 0' in text and 'vad_windows{status="done"} 3' in text
    assert 'vad_webhook_deliveries{status="dead"} 2' in text
    assert "vad_webhook_attempt_failures_total 7" in text
    assert "# TYPE vad_camera_frames_total counter" in text


def test_metrics_show_the_source_and_analysed_rates_beside_the_setting():
    """A 25 fps camera set to 10 is analysed every 3rd frame: 8.33 fps, not 10."""
    cameras = [_camera("gate", fps=10.0, source_fps=25.0), _camera("mjpeg")]
    text = metrics.render(_snapshot(cameras), Settings(_env_file=None))
    assert 'vad_camera_fps{camera="gate"} 10.0' in text
    assert 'vad_camera_source_fps{camera="gate"} 25.0' in text
    assert 'vad_camera_analysed_fps{camera="gate"} 8.333333333333' in text
    assert 'vad_camera_source_fps{camera="mjpeg"}' not in text  # unknown: absent, not 0
    assert 'vad_camera_analysed_fps{camera="mjpeg"} 10.0' in text  # kept by time at the setting


def test_collector_reads_the_database_on_every_scrape():
    reads = []

    def read():
        reads.append(1)
        return _snapshot([], windows={"queued": len(reads)}), [("frames", "tid", 0, 5)]

    collector = metrics.DatabaseCollector(read, Settings(_env_file=None))
    first, second = metrics.exposition(collector), metrics.exposition(collector)
    assert len(reads) == 2  # no cached numbers: each scrape is a fresh snapshot
    assert b'vad_windows{status="queued"} 1.0' in first
    assert b'vad_windows{status="queued"} 2.0' in second
    assert b'vad_kafka_lag_records{partition="0",topic="frames",topic_id="tid"} 5.0' in second


def test_validation_errors_name_the_field():
    app = FastAPI()
    errors.install(app)

    @app.get("/x")
    def x(min_score: float = Query(ge=0)) -> dict:
        if min_score > 5:
            raise errors.FieldError("min_score", "too high", location="query")
        return {}

    client = TestClient(app)
    body = client.get("/x", params={"min_score": "abc"}).json()
    assert body["errors"][0]["field"] == "min_score"
    assert body["errors"][0]["location"] == "query"
    assert "min_score" in body["detail"]
    response = client.get("/x", params={"min_score": 9})
    assert response.status_code == 422 and response.json()["errors"][0]["message"] == "too high"
