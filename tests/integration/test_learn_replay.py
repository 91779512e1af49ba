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
