"""Scene descriptions go through the same chain as captions (summary, rating, explanation)."""

from __future__ import annotations

from service.settings import Settings
from vad.stage2 import prompts
from vad.stage2.chain import Stage2Chain, WindowInput
from vad.stage2.prompts import plain_text
from vad.stage2.scene import SceneSource


class EchoLLM:
    """Answers with a fixed rating; free text repeats what the prompt describes."""

    name = "echo"

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.calls: list[str] = []

    def generate(self, dialogue, max_tokens: int, stop=()) -> str:
        self.prompts.append(plain_text(dialogue))
        self.calls.append("generate")
        return "A vehicle drives fast on the walkway. Nothing else."

    def choose(self, dialogue, choices: list[str]) -> str:
        self.prompts.append(plain_text(dialogue))
        self.calls.append("choose")
        return "0.8"


def test_scene_sentences_replace_captions_and_skip_cleaning():
    llm = EchoLLM()
    chain = Stage2Chain(SceneSource("scene:ssd"), llm, Settings(_env_file=None).stage2)
    scene = [(0.0, "a vehicle drives to the left at 2.5x the usual speed of people here")]
    result = chain.run(WindowInput([], [], None, [], scene))
    assert result.captions_raw == result.captions_clean == [scene[0][1]]
    assert result.cleaning.startswith("skipped: scene descriptions")
    assert "\n- a vehicle drives to the left" in llm.prompts[0]  # a line per object, no times
    assert result.score == 0.8
    assert result.explanation == "A vehicle drives fast on the walkway."
    assert chain.models()["captioner"] == "scene:ssd"


def test_explanations_only_skips_the_rating_and_explains_from_the_summary():
    """A model with fusion weight 0: no rating call; the summary and the explanation are kept
    (the dashboard shows both, search indexes both)."""
    llm = EchoLLM()
    chain = Stage2Chain(SceneSource("scene:ssd"), llm, Settings(_env_file=None).stage2)
    scene = [(0.0, "a vehicle drives to the left at 2.5x the usual speed of people here")]
    result = chain.run(WindowInput([], [], "Walkway", [], scene), rate=False)
    assert llm.calls == ["generate", "generate"]  # summary, explanation
    assert not result.rated and result.answer is None and result.score is None
    assert result.score_error is None  # not asked is not an unparsed answer
    assert result.summary and result.explanation == "A vehicle drives fast on the walkway."
    assert "score" not in result.stage_seconds and set(result.stage_cpu_seconds) == {
        "summary",
        "explain",
    }
    assert llm.prompts[1].startswith(llm.prompts[0])  # the explanation follows the summary
    rated = EchoLLM()
    Stage2Chain(SceneSource("s"), rated, Settings(_env_file=None).stage2).run(
        WindowInput([], [], "Walkway", [], scene)
    )
    assert rated.calls == ["generate", "choose", "generate"]
    assert rated.prompts[2].startswith(rated.prompts[1]) and "0.8" in rated.prompts[2]


def test_a_quiet_window_is_its_own_summary_and_explanation():
    """Only standers and usual walkers: the description states no speed, so the LLM neither
    summarizes nor explains it (it invented crimes and garbled counts there); both are the lines
    themselves. Rated, the rating is still asked, after that summary."""
    quiet = [(0.0, "2 people stand in the centre of the view"), (0.0, "5 people walk")]
    llm = EchoLLM()
    chain = Stage2Chain(SceneSource("s"), llm, Settings(_env_file=None).stage2)
    result = chain.run(WindowInput([], [], None, [], quiet), rate=False)
    said = (
        "Nothing was measured moving unusually fast or slow: "
        "2 people stand in the centre of the view; 5 people walk."
    )
    assert llm.calls == [] and result.summary == result.explanation == said
    assert set(result.stage_cpu_seconds) == {"summary", "explain"}
    rated = EchoLLM()
    result = Stage2Chain(SceneSource("s"), rated, Settings(_env_file=None).stage2).run(
        WindowInput([], [], None, [], quiet)
    )
    assert rated.calls == ["choose"] and result.score == 0.8 and result.explanation == said
    assert rated.prompts[0].endswith(prompts.score_question(chain.config.score_values))
    assert said in rated.prompts[0]  # the rating follows the summary, as on other windows


def test_a_window_with_a_measured_speed_is_asked_how_fast_it_moves():
    fast = [(0.0, "a person moves to the right at 3.1x the usual speed of people here")]
    llm = EchoLLM()
    Stage2Chain(SceneSource("s"), llm, Settings(_env_file=None).stage2).run(
        WindowInput([], [], None, [], fast), rate=False
    )
    assert llm.calls == ["generate", "generate"]
    assert llm.prompts[-1].endswith(prompts.EXPLAIN)
