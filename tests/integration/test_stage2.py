"""Stage 2 in the real pipeline: stage-1 incidents request analyses of their windows, a separate
Celery worker on the `stage2` queue runs tiny transformers models (random weights, built here)
over the real Ped2 frames read back from Kafka, and everything is stored with the incident."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from db import webhook_queries
from db.session import transaction
from tests.support.pipeline import Pipeline, wait_until
from tests.support.tiny_models import need_export_extra

pytestmark = pytest.mark.integration

CONTEXT = "University walkway seen from above: pedestrians only, no vehicles or bicycles."


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    need_export_extra()
    from tests.support.stage2_models import tiny_captioner_dir, tiny_llm_dir
    from tests.support.tiny_models import tiny_clip_dir

    root = tmp_path_factory.mktemp("stage2-models")
    tiny_captioner_dir(root / "stage2")
    tiny_llm_dir(root / "stage2")
    (root / "encoders").mkdir()
    tiny_clip_dir(root / "build").rename(root / "encoders" / "clip-vit-b32")
    return root


def analyses(pipe: Pipeline) -> list:
    return pipe.rows("SELECT * FROM stage2_analyses ORDER BY window_start_at")


def test_stage2_runs_on_its_own_queue_and_stores_with_the_incident(
    pipeline: Pipeline, ped2, tiny_models
):
    env = {
        "VAD_MODEL_DIR": str(tiny_models),
        "VAD_INCIDENTS__DEFAULT_THRESHOLD": "0.05",  # the motion scorer flags plenty
        "VAD_STAGE2__BURST": "3",
        "VAD_STAGE2__MAX_CALLS_PER_MINUTE": "1",
    }
    pipeline.env.update(env)
    added = pipeline.vad(
        "camera", "add", "walkway", str(ped2 / "test" / "test_04.mp4"), "--disabled",
        "--context", CONTEXT,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    with transaction(pipeline.sessions) as session:  # a receiver; nothing needs to answer it
        webhook_queries.add_subscription(
            session, url="http://127.0.0.1:9/hook", secret="s" * 16, events=["incident.analyzed"]
        )
    status = pipeline.vad("stage2", "status")
    assert "stage 2 is on" in status.stdout, status.stdout + status.stderr
    pipeline.start("dispatcher", "dispatcher")
    stage1 = pipeline.start("worker", "worker", "--name", "s1")
    stage2 = pipeline.start("stage2", "stage2-worker")
    replay = pipeline.vad("replay", str(ped2 / "test" / "test_04.mp4"), "--camera", "walkway",
                          "--fast", timeout=300)  # fmt: skip
    assert replay.returncode == 0, replay.stderr + replay.stdout
    assert pipeline.scalar("SELECT count(*) FROM incidents") >= 1
    wait_until(
        lambda: (
            analyses(pipeline)
            and all(a.status in ("done", "skipped", "failed") for a in analyses(pipeline))
        ),
        240,
        lambda: "every stage-2 request finished\n" + pipeline.logs(),
    )
    rows = analyses(pipeline)
    done = [a for a in rows if a.status == "done"]
    assert done, [(a.status, a.reason) for a in rows]
    assert not [a for a in rows if a.status == "failed"], [a.reason for a in rows]
    skipped = [a for a in rows if a.status == "skipped"]
    assert all(a.reason.split(":")[0] in ("budget", "incident cap") for a in skipped)
    if len(rows) > 3:  # burst 3 then 1 per minute: the rest of a fast replay is over budget
        assert any(a.reason.startswith("budget") for a in skipped)
    for a in done:
        assert_complete(pipeline, a)
    incident = pipeline.rows("SELECT * FROM incidents WHERE id=:i", i=done[0].incident_id)[0]
    assert incident.fused_score is not None and incident.explanation
    # never calibrated (`vad stage2 calibrate`): the LLM explains only, the score is stage 1's
    assert incident.fused_score == pytest.approx(incident.peak_score)
    status = pipeline.vad("stage2", "status")
    said = "camera walkway: LLM: explanations only (weight 0; windows get a summary and an "
    assert said + "explanation, the rating is skipped): not calibrated" in status.stdout
    # what stage 2 learned is handed to incident search (issue 8) in the same transaction
    texts = {r.source: r.body for r in pipeline.rows(
        "SELECT source, body FROM incident_texts WHERE incident_id=:i", i=incident.id)}  # fmt: skip
    assert texts["explanation"] == incident.explanation
    assert texts["summary"] and texts["caption"]
    # subscribers hear of the verdict: one `incident.analyzed` delivery per change, with its body
    sent = pipeline.rows(
        "SELECT event_id, payload FROM webhook_deliveries WHERE event_type='incident.analyzed'"
        " AND incident_id=:i", i=incident.id)  # fmt: skip
    assert sent and len({d.event_id for d in sent}) == len(sent)
    assert any(json.loads(d.payload)["incident"]["explanation"] for d in sent)
    # stage 2 ran in the stage-2 worker, never in the stage-1 worker
    assert "vad.stage2_analyze" in stage2.log()
    assert "vad.stage2_analyze" not in stage1.log()
    listed = json.loads(pipeline.vad("incidents", "--json").stdout)
    mine = next(i for i in listed if i["id"] == incident.id)
    assert mine["explanation"] == incident.explanation and mine["fused_score"] is not None
    shown = pipeline.vad("stage2", "show", str(incident.id))
    assert shown.returncode == 0 and json.loads(shown.stdout)[0]["summary"]
    status = pipeline.vad("stage2", "status")
    assert f"done     -              {len(done):>8}" in status.stdout, status.stdout


def assert_complete(pipe: Pipeline, a) -> None:
    """Everything the issue asks to store with the incident is there and consistent."""
    k = len(a.frame_offsets)
    assert 1 <= k <= 6 and len(a.frame_indices) == len(a.frame_times) == k
    assert a.frame_offsets == sorted(a.frame_offsets)
    window = pipe.rows("SELECT * FROM windows WHERE id=:w", w=a.window_id)[0]
    assert all(window.first_offset <= o <= window.last_offset for o in a.frame_offsets)
    assert all(window.start_at.timestamp() - 1e-3 <= t <= window.end_at.timestamp() + 1e-3
               for t in a.frame_times)  # fmt: skip
    assert len(a.captions_raw) == len(a.captions_clean) == k
    assert a.cleaning.startswith("tiny-clip")
    assert a.summary and a.explanation
    # never calibrated: weight 0, explanations only, so the rating is not asked for
    assert (a.answer, a.llm_score, a.score, a.refined_score) == (None, None, None, None)
    assert a.score_source == "not rated" and a.answer_error is None
    assert a.fused_score == pytest.approx(a.stage1_peak)
    assert (a.captioner, a.llm, a.encoder) == (
        "transformers:captioner", "transformers:llm", "tiny-clip"
    )  # fmt: skip
    assert a.prompt_version.startswith("lavad-")
    assert a.context == CONTEXT
    assert a.seconds > 0 and set(a.stage_seconds) == {"caption", "clean", "summary", "explain"}
    assert a.trigger in ("incident.opened", "incident.updated")


def test_without_models_stage2_is_off_and_says_how(pipeline: Pipeline):
    status = pipeline.vad("stage2", "status")
    assert status.returncode == 0, status.stderr
    assert "stage 2 is off" in status.stdout and "VAD_STAGE2__CAPTIONER_URL" in status.stdout
    worker = pipeline.vad("stage2-worker", timeout=60)
    assert worker.returncode == 2 and "stage 2 is off" in worker.stderr


def test_camera_context_is_set_shown_and_cleared(pipeline: Pipeline, ped2):
    clip = str(ped2 / "test" / "test_01.mp4")
    assert pipeline.vad("camera", "add", "gate", clip, "--disabled").returncode == 0
    shown = pipeline.vad("camera", "context", "gate")
    assert shown.stdout.strip() == "camera 'gate' context: (none)"
    pipeline.vad("camera", "context", "gate", CONTEXT)
    assert pipeline.scalar("SELECT context FROM cameras WHERE name='gate'") == CONTEXT
    assert CONTEXT in pipeline.vad("camera", "context", "gate").stdout
    pipeline.vad("camera", "context", "gate", "--clear")
    assert pipeline.scalar("SELECT context FROM cameras WHERE name='gate'") is None
    missing = pipeline.vad("camera", "context", "nope", "x")
    assert missing.returncode == 2 and "no camera named 'nope'" in missing.stderr
