"""Zero-shot probability (balanced prompt groups), the fusion rule, per-camera prompt sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vad.encoders.config import ZeroShotConfig
from vad.encoders.zero_shot import PromptSet, ZeroShotScorer, describe, fuse


def _unit(v) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _scorer(n_normal: int = 1, n_anomaly: int = 1, temperature: float = 0.01) -> ZeroShotScorer:
    normal = _unit([[1, 0, 0]] * n_normal)
    anomaly = _unit([[0, 1, 0]] + [[0, 1, 0.2 * i] for i in range(1, n_anomaly)])
    prompts = PromptSet(
        tuple(f"normal {i}" for i in range(n_normal)),
        tuple(f"anomaly {i}" for i in range(n_anomaly)),
    )
    return ZeroShotScorer(prompts, normal, anomaly, temperature)


def test_frame_near_a_watch_rule_scores_high_and_names_it() -> None:
    result = _scorer(2, 3).score(_unit([[0.1, 1, 0], [1, 0.1, 0]]))
    assert result.probability[0] > 0.99 and result.probability[1] < 0.01
    assert result.top_rule[0] == "anomaly 0"


def test_equidistant_frame_is_one_half_whatever_the_group_sizes() -> None:
    frame = _unit([[1, 1, 0]])
    for n_normal, n_anomaly in ((1, 1), (1, 5), (5, 1)):
        scorer = _scorer(n_normal, 1)
        scorer.anomaly = np.repeat(scorer.anomaly, n_anomaly, axis=0)
        scorer.prompts = PromptSet(scorer.prompts.normal, ("a",) * n_anomaly)
        assert scorer.score(frame).probability[0] == pytest.approx(0.5, abs=1e-6)


def test_higher_temperature_is_less_certain() -> None:
    frame = _unit([[0.5, 1, 0]])
    sharp = _scorer(temperature=0.01).score(frame).probability[0]
    soft = _scorer(temperature=1.0).score(frame).probability[0]
    assert sharp > soft > 0.5


def test_empty_batch() -> None:
    assert _scorer().score(np.zeros((0, 3), np.float32)).probability.shape == (0,)


def test_fusion_takes_the_larger_term_and_says_which() -> None:
    assert fuse(0.3, 0.9, 1.0) == (pytest.approx(0.9), "zero-shot")
    assert fuse(0.7, 0.9, 0.5) == (0.7, "stage1")
    assert fuse(0.2, 0.9, 0.0) == (0.2, "stage1")  # weight 0: zero-shot never raises incidents
    score, fired = fuse(math.nan, 0.9, 1.0)
    assert math.isnan(score) and fired == "stage1"
    assert describe("zero-shot", "a fight", 0.91) == "watch rule 'a fight' (zero-shot p=0.91)"
    assert describe("stage1", "a fight", 0.1) == "stage-1 score"


def test_camera_rules_extend_or_replace_the_defaults() -> None:
    config = ZeroShotConfig()
    rules = {"anomaly": ["someone climbs the fence", "a dog on the lawn"], "normal": ["a lawn"]}
    merged = PromptSet.for_camera(config, rules)
    assert merged.anomaly.count("someone climbs the fence") == 1  # already a default
    assert "a dog on the lawn" in merged.anomaly and "a lawn" in merged.normal
    own = PromptSet.for_camera(ZeroShotConfig(use_defaults=False), rules)
    assert own.anomaly == ("someone climbs the fence", "a dog on the lawn")
    assert own.normal == ("a lawn",)
    assert PromptSet.for_camera(ZeroShotConfig(use_defaults=False), {}) is None


def test_with_the_tiny_clip_on_ped2(tiny_clip, ped2_frames) -> None:
    from vad.encoders.clip import ClipEncoder

    encoder = ClipEncoder.load(tiny_clip)
    scorer = ZeroShotScorer.build(encoder, PromptSet.for_camera(ZeroShotConfig(), {}), 0.01)
    result = scorer.score(encoder.embed_images(ped2_frames))
    assert result.probability.shape == (len(ped2_frames),)
    assert ((result.probability > 0) & (result.probability < 1)).all()
    assert set(result.top_rule) <= set(ZeroShotConfig().anomaly_prompts)
