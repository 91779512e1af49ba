"""Scene descriptions go through the same chain as captions (summary, rating, explanation)."""

from __future__ import annotations

from service.settings import Settings
from vad.stage2.chain import Stage2Chain, WindowInput
from vad.stage2.scene import SceneSource


class EchoLLM:
    """Answers with a fixed rating; free text repeats what the prompt describes."""

    name = "echo"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, prompt: str, max_tokens: int) -> str:
        self.prompts.append(prompt)
        return "A vehicle drives fast on the walkway. Nothing else."

    def choose(self, prompt: str, choices: list[str]) -> str:
        self.prompts.append(prompt)
        return "0.8"


def test_scene_sentences_replace_captions_and_skip_cleaning():
    llm = EchoLLM()
    chain = Stage2Chain(SceneSource("scene:ssd"), llm, Settings(_env_file=None).stage2)
    scene = [(0.0, "a vehicle drives to the left at 2.5x the usual speed of people here")]
    result = chain.run(WindowInput([], [], None, [], scene))
    assert result.captions_raw == result.captions_clean == [scene[0][1]]
    assert result.cleaning.startswith("skipped: scene descriptions")
    assert "t=0.0s: a vehicle drives to the left" in llm.prompts[0]
    assert result.score == 0.8
    assert result.explanation == "A vehicle drives fast on the walkway."
    assert chain.models()["captioner"] == "scene:ssd"
