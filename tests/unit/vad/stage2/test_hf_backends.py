"""Every in-process model family the transformers backends accept, on real Ped2 frames."""

from __future__ import annotations

import pytest

from tests.support.tiny_models import need_export_extra
from vad.stage2.backends import BackendUnavailable
from vad.stage2.hf import TransformersCaptioner, TransformersLLM
from vad.stage2.prompts import EXPLAIN, follow_up, summary_dialogue

CHOICES = ["0", "0.1", "0.5", "0.9", "1"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    need_export_extra()
    from tests.support import stage2_models

    root = tmp_path_factory.mktemp("hf-backends")
    return {
        "blip": stage2_models.tiny_blip_dir(root),
        "vlm": stage2_models.tiny_vlm_dir(root),
        "chat-llm": stage2_models.tiny_chat_llm_dir(root),
    }


@pytest.mark.parametrize(("family", "kind"), [("blip", "blip"), ("vlm", "llava")])
def test_captioner_families(tiny, family, kind, ped2_frames):
    captioner = TransformersCaptioner(tiny[family])
    assert captioner.kind == kind and captioner.name == f"transformers:{family}"
    captions = captioner.caption(ped2_frames[:3], "Describe the image.", 8)
    assert len(captions) == 3 and all(isinstance(c, str) and c for c in captions)
    assert captioner.caption([], "x", 8) == []


def said(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_chat_template_llm_generates_and_can_only_choose_allowed(tiny):
    llm = TransformersLLM(tiny["chat-llm"])
    assert llm.generate(said("Summarize: a cart crosses the walkway."), 12)
    prompts = ["Rate: a cart on the walkway.", "Rate: people walk.", "Answer:"]
    assert all(llm.choose(said(p), CHOICES) in CHOICES for p in prompts)
    dialogue = summary_dialogue([(0.0, "a cart crosses")], "Walkway")
    dialogue = follow_up(dialogue, "A cart crosses.", EXPLAIN)
    assert isinstance(llm.generate(dialogue, 8), str)  # system, user, assistant, user turns


def test_generation_ends_before_the_first_stop_string(tiny):
    """As the OpenAI API's `stop`: the text up to the stop string, which is left out."""
    llm = TransformersLLM(tiny["chat-llm"])
    question = said("Summarize: a cart crosses the walkway.")
    full = llm.generate(question, 16)
    marks = (full[i : i + 2] for i in range(3, len(full) - 1) if full.find(full[i : i + 2]) == i)
    mark = next((m for m in marks if m.strip()), "")  # first said after a few characters
    assert mark, f"the seeded tiny model said too little to stop in: {full!r}"
    assert llm.generate(question, 16, stop=[mark]) == full[: full.find(mark)].strip()


def test_long_prompts_are_cut_from_the_front(tiny):
    llm = TransformersLLM(tiny["chat-llm"])
    long = "a person walks. " * 400 + "Answer:"  # far beyond 512 positions
    assert llm.choose(said(long), CHOICES) in CHOICES
    assert isinstance(llm.generate(said(long), 8), str)


def test_missing_folder_says_what_is_missing(tmp_path):
    need_export_extra()  # without the packages, that is what it reports first
    with pytest.raises(BackendUnavailable, match="config.json missing"):
        TransformersLLM(tmp_path / "nothing")
