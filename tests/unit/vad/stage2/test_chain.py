"""The whole chain on real Ped2 frames with tiny transformers models (random weights), loaded
through the product's own model-folder path."""

from __future__ import annotations

import importlib.util

import numpy as np

from service.settings import Settings
from vad.stage2 import prompts
from vad.stage2.chain import WindowInput, choose_frames
from vad.stage2.loading import build_chain, stage2_status


def settings_for(model_dir) -> Settings:
    return Settings(_env_file=None, model_dir=model_dir)


def test_off_without_models_and_says_how_to_enable(tmp_path):
    status = stage2_status(settings_for(tmp_path))
    assert not status.enabled
    assert "captioner" in status.reason and "LLM" in status.reason
    text = status.describe()
    assert "VAD_STAGE2__CAPTIONER_URL" in text and str(tmp_path / "stage2" / "llm") in text


def test_missing_transformers_is_named_with_the_install_command(tmp_path, monkeypatch):
    (tmp_path / "stage2" / "captioner").mkdir(parents=True)
    (tmp_path / "stage2" / "captioner" / "config.json").write_text("{}")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    status = stage2_status(settings_for(tmp_path))
    # named whether or not transformers is installed too ("torch and transformers not ...")
    assert not status.enabled and "torch" in status.reason and "not installed" in status.reason
    assert "pip install 'vad-service[export]'" in status.reason


def test_endpoints_need_no_model_folder(tmp_path):
    settings = Settings(
        _env_file=None,
        model_dir=tmp_path,
        stage2={"captioner_url": "http://127.0.0.1:9/v1", "llm_url": "http://127.0.0.1:9/v1"},
    )
    assert stage2_status(settings).enabled
    off = Settings(_env_file=None, model_dir=tmp_path, stage2={"enabled": False})
    assert "disabled" in stage2_status(off).reason


def test_density_aware_choice_concentrates_on_stage1_peaks():
    settings = Settings(_env_file=None)
    scores = [0.1] * 20
    scores[12:16] = [0.9] * 4
    picks = choose_frames(scores, settings.stage2)
    assert len(picks) == settings.stage2.frames_per_window
    assert sum(12 <= p < 16 for p in picks) >= 2  # dense on the peak
    assert min(picks) < 8  # but never only there


def test_tiny_models_run_the_whole_chain_on_ped2(stage2_model_dir, ped2_frames):
    settings = settings_for(stage2_model_dir)
    assert stage2_status(settings).enabled
    chain = build_chain(settings)
    models = chain.models()
    assert models["captioner"] == "transformers:captioner" and models["llm"] == "transformers:llm"
    assert models["encoder"] is not None  # the tiny CLIP cleans captions
    scores = np.linspace(0.1, 0.9, len(ped2_frames))
    picks = choose_frames(scores, settings.stage2)
    times = [1000.0 + 0.1 * i for i in range(len(ped2_frames))]
    window = WindowInput(
        [ped2_frames[i] for i in picks],
        [times[i] for i in picks],
        context="University walkway: pedestrians only, no vehicles.",
        neighbour_captions=["a person walks along the walkway"],
    )
    result = chain.run(window)
    k = settings.stage2.frames_per_window
    assert len(result.captions_raw) == len(result.captions_clean) == k
    assert all(c.strip() for c in result.captions_raw)  # never empty captions
    pool = {c.strip() for c in result.captions_raw} | {"a person walks along the walkway"}
    assert set(result.captions_clean) <= pool
    assert result.cleaning.startswith(models["encoder"])
    assert result.summary
    # the in-process LLM can only answer one of the allowed values
    assert result.answer in [prompts.format_value(v) for v in settings.stage2.score_values]
    assert result.score is not None and result.score_error is None
    assert result.explanation and len(result.explanation) <= 300
    assert np.isclose(np.linalg.norm(result.embedding), 1.0, atol=1e-4)
    assert result.embedding_kind.startswith("clip:")
    assert set(result.stage_seconds) == {"caption", "clean", "summary", "score", "explain"}
    assert result.seconds > 0


def test_prompts_carry_the_camera_context_and_allowed_values():
    opening = prompts.summary_dialogue([(0.0, "a cart"), (0.4, "")], "Walkway, no vehicles.")
    system, ask = opening
    assert system["role"] == "system" and "Walkway, no vehicles." in system["content"]
    assert "t=0.0s: a cart" in ask["content"] and "t=0.4s" not in ask["content"]
    assert "Camera context" not in prompts.summary_dialogue([], None)[0]["content"]
    question = prompts.score_question([0.0, 0.5, 1.0])
    assert "law enforcement" in question and "from 0 to 1 in steps of 0.5" in question
    assert "from this list: [0, 0.2, 1]" in prompts.score_question([0.0, 0.2, 1.0])
    assert prompts.first_sentence("It is fine. Nothing else.") == "It is fine."
    # generation stopped at ". " (left out): the sentence gets its full stop back
    assert prompts.one_sentence("A cart moves at 2.5x the usual speed") == (
        "A cart moves at 2.5x the usual speed."
    )
    assert prompts.one_sentence("Is it fine? Yes.") == "Is it fine?"
    assert prompts.one_sentence("") == ""
    assert len(prompts.one_sentence("word " * 100)) == 300  # within the limit, closed
    assert prompts.PROMPT_VERSION.startswith(prompts.PROMPT_SERIES)


def test_every_call_of_a_window_and_every_window_share_the_prompts_beginning():
    """What llama.cpp's KV cache reuses: the fixed text first (instructions, context, the summary
    instruction), and each follow-up repeats the previous call's prompt and answer verbatim."""
    one = prompts.summary_dialogue([(0.0, "a cart crosses")], "Walkway")
    two = prompts.summary_dialogue([(0.5, "7 people walk")], "Walkway")
    assert one[0] == two[0]  # the system turn
    fixed = prompts.SUMMARY.split("{captions}")[0]
    assert one[1]["content"].startswith(fixed) and two[1]["content"].startswith(fixed)
    rating = prompts.follow_up(one, "A cart crosses.", prompts.score_question([0.0, 1.0]))
    explain = prompts.follow_up(rating, "0", prompts.EXPLAIN)
    assert rating[: len(one)] == one and explain[: len(rating)] == rating
    assert explain[-2] == {"role": "assistant", "content": "0"}
    assert "Walkway" in prompts.plain_text(explain) and "Explanation:" in prompts.plain_text(
        explain
    )
