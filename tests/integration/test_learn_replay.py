"""The learned normality model inside the real pipeline: learn on normal footage, replay a
labelled test video, and the incidents it opens cover the labelled anomalous span."""

from __future__ import annotations

import json
import re
import shutil

import cv2
import pytest

from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.integration


def test_learned_model_opens_incident_over_labelled_span(pipeline: Pipeline, ped2, tmp_path):
    normal = tmp_path / "normal"
    normal.mkdir()
    # Six clips, not three: with the per-row (perspective) motion threshold the far rows need more
    # than three crowded clips of walkers to be learned (docs/benchmarks-normality.md, round 6).
    for name in (f"train_0{i}.mp4" for i in range(1, 7)):
        shutil.copy(ped2 / "train" / name, normal / name)
    video = ped2 / "test" / "test_04.mp4"
    labels = json.loads((ped2 / "test_labels.json").read_text())
    fps = labels["fps"]
    span_start, span_end = (x / fps for x in labels["videos"]["test_04"]["anomalous_spans"][0])

    assert pipeline.vad("camera", "add", "walkway", str(video), "--disabled").returncode == 0
    no_model = pipeline.vad("camera", "learn", "walkway")
    assert no_model.returncode == 2 and "--from" in no_model.stderr
    learned = pipeline.vad("camera", "learn", "walkway", "--from", str(normal), timeout=300)
    assert learned.returncode == 0, learned.stderr
    assert "model v1" in learned.stdout
    assert "velocity model: " in learned.stdout and "cells, normal speed" in learned.stdout
    assert "object model: off (detector" in learned.stdout  # says how to install the detector
    assert (
        "vad models pull ssd-mobilenetv2-oidv4 && vad models export ssd-mobilenetv2-oidv4"
        in learned.stdout
    )
    assert pipeline.scalar("SELECT count(*) FROM normality_models") == 1

    pipeline.start("dispatcher", "dispatcher")
    pipeline.start("worker", "worker", "--name", "w1")
    replay = pipeline.vad("replay", str(video), "--camera", "walkway", "--fast", timeout=300)
    assert replay.returncode == 0, replay.stderr + replay.stdout + pipeline.logs()
    spans = [
        (float(a), float(b))
        for a, b in re.findall(r"\[file\s+([\d.]+) s ->\s+([\d.]+) s\]", replay.stdout)
    ]
    assert spans, replay.stdout
    covered = sum(max(0.0, min(b, span_end) - max(a, span_start)) for a, b in spans)
    outside = sum((b - a) for a, b in spans) - covered
    assert covered >= 0.6 * (span_end - span_start), (spans, replay.stdout)
    assert outside <= 2.0, (spans, replay.stdout)
    scorers = pipeline.rows("SELECT DISTINCT scorer FROM windows")
    assert [s.scorer for s in scorers] == ["normality"]
    incident = pipeline.rows(
        "SELECT status, key_frame IS NOT NULL AS pic, rule, fired FROM incidents"
    )[0]
    assert incident.status == "closed" and incident.pic and "normality" in incident.rule
    assert incident.fired.startswith(("pixel model: ", "velocity model: ")), incident.fired
    fired = pipeline.rows("SELECT DISTINCT fired FROM frame_scores WHERE score IS NOT NULL")
    assert {r.fired for r in fired} <= {"pixel", "velocity"}, fired

    # The incident as an investigator exports it: ±2 s of retained frames as an MP4.
    clip_path = tmp_path / "clip.mp4"
    clip_path.write_bytes(_export_clip(pipeline, 2.0))
    capture = cv2.VideoCapture(str(clip_path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape[:2] == (240, 360)
    incident_seconds = spans[0][1] - spans[0][0]
    assert count >= int(incident_seconds * fps), (count, spans)

    _teach(pipeline)


def _teach(pipeline: Pipeline) -> None:
    """Issue 20: the operator's verdicts (API and CLI) make and undo model versions; relearning
    from the stored frames leaves confirmed incidents out."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.tokens import create_token
    from frames.reader import FrameReader

    with pipeline.sessions() as session, session.begin():
        admin = create_token(session, "operator", "admin")
        viewer = create_token(session, "viewer", "read")
    incident = pipeline.scalar("SELECT min(id) FROM incidents")
    reader = FrameReader(pipeline.endpoints.kafka_bootstrap)
    client = TestClient(create_app(pipeline.settings, pipeline.sessions, frame_reader=reader))
    url, body = f"/incidents/{incident}/feedback", {"verdict": "false_alarm", "note": "a cart"}
    try:
        denied = client.post(url, json=body, headers={"Authorization": f"Bearer {viewer}"})
        assert denied.status_code == 403
        bad = client.post(
            url, json={"verdict": "maybe"}, headers={"Authorization": f"Bearer {admin}"}
        )
        assert bad.status_code == 422
        taught = client.post(url, json=body, headers={"Authorization": f"Bearer {admin}"})
        assert taught.status_code == 200, taught.text
        assert taught.json()["model_version"] == 2 and taught.json()["verdict"] == "false_alarm"
        detail = client.get(f"/incidents/{incident}", headers={"Authorization": f"Bearer {viewer}"})
        assert detail.json()["feedback"]["verdict"] == "false_alarm"
        assert detail.json()["feedback"]["author"] == "operator"
    finally:
        reader.close()
    v2 = pipeline.rows(
        "SELECT m.version, p.version AS parent, m.learned_from, m.path FROM normality_models m "
        "JOIN normality_models p ON p.id = m.parent_id WHERE m.version = 2"
    )[0]
    assert v2.parent == 1 and v2.learned_from["incidents"] == [incident]
    assert v2.learned_from["note"] == "a cart" and v2.learned_from["frame_ranges"]
    assert sum(r["frames"] for r in v2.learned_from["frame_ranges"]) > 0

    undone = pipeline.vad("feedback", str(incident), "--undo")
    assert undone.returncode == 0, undone.stderr
    assert "model v2 retired; the camera scores with v1" in undone.stdout
    assert pipeline.scalar("SELECT count(*) FROM incident_feedback") == 0
    again = pipeline.vad("feedback", str(incident), "--false-alarm", timeout=300)
    assert again.returncode == 0, again.stderr
    assert "model v3 = v1 + " in again.stdout

    confirmed = pipeline.vad("feedback", str(incident), "--confirmed", "--note", "real")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "model v3 retired" in confirmed.stdout
    active = pipeline.rows(
        "SELECT version FROM normality_models WHERE retired_at IS NULL ORDER BY version"
    )
    assert [r.version for r in active] == [1]
    relearned = pipeline.vad("camera", "learn", "walkway", "--recent", "2h", timeout=300)
    assert relearned.returncode == 0, relearned.stderr
    assert "model v4" in relearned.stdout
    assert f"left out the frames of open or confirmed incidents [{incident}]" in relearned.stdout
    learned_from = pipeline.scalar("SELECT learned_from FROM normality_models WHERE version = 4")
    assert learned_from["kind"] == "recent" and learned_from["left_out_incidents"] == [incident]
    schedule = pipeline.vad("camera", "relearn", "walkway", "--every", "12h")
    assert "every 12 h" in schedule.stdout
    assert pipeline.scalar("SELECT relearn_every_hours FROM cameras") == 12.0


def _export_clip(pipeline: Pipeline, pad: float) -> bytes:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.tokens import create_token
    from frames.reader import FrameReader

    with pipeline.sessions() as session, session.begin():
        token = create_token(session, "investigator", "read")
    incident_id = pipeline.scalar("SELECT min(id) FROM incidents")
    reader = FrameReader(pipeline.endpoints.kafka_bootstrap)
    client = TestClient(create_app(pipeline.settings, pipeline.sessions, frame_reader=reader))
    response = client.get(
        f"/incidents/{incident_id}/clip.mp4",
        params={"pad_seconds": pad},
        headers={"Authorization": f"Bearer {token}"},
    )
    reader.close()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    webm = client.get(
        f"/incidents/{incident_id}/clip.webm",
        params={"pad_seconds": pad},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert webm.status_code == 200 and webm.headers["content-type"] == "video/webm"
    assert webm.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML magic: a real WebM file
    missing = client.get("/incidents/999999/clip.mp4", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404
    return response.content
