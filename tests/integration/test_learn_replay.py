"""The learned normality model inside the real pipeline: learn on normal footage, replay a
labelled test video, and the incidents it opens cover the labelled anomalous span."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.integration


def test_learned_model_opens_incident_over_labelled_span(pipeline: Pipeline, ped2, tmp_path):
    normal = tmp_path / "normal"
    normal.mkdir()
    for name in ("train_01.mp4", "train_02.mp4", "train_03.mp4"):
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
    incident = pipeline.rows("SELECT status, key_frame IS NOT NULL AS pic, rule FROM incidents")[0]
    assert incident.status == "closed" and incident.pic and "normality" in incident.rule
