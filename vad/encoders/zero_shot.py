"""Zero-shot anomaly probability from sentences (the CLIP baseline of LAVAD/VadCLIP), and its
fusion with the stage-1 score.

Probability. With unit image embedding x and unit prompt embeddings, each group (normal,
anomalous) gets a logit = logsumexp(cos(x, p) / T) - log(#prompts in the group): a prompt
ensemble that does not favour the group with more sentences. P(anomalous) = sigmoid(logit_a -
logit_n). A frame equally close to both groups scores 0.5 whatever the group sizes.

Fusion rule. fused = max(stage-1 score, weight x P(anomalous)); the larger term "fired". The
stage-1 model keeps its recall (zero-shot can only add), a described event raises an incident
even where the scene model saw nothing unusual, and `weight` = 0 keeps zero-shot as a stored
signal only. A frame without a stage-1 score (undecodable) stays without one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vad.encoders.config import ZeroShotConfig


@dataclass(frozen=True, slots=True)
class PromptSet:
    """A camera's sentences: what its normal scene looks like and what to watch for."""

    normal: tuple[str, ...]
    anomaly: tuple[str, ...]

    @classmethod
    def for_camera(cls, config: ZeroShotConfig, rules: dict[str, list[str]]) -> PromptSet | None:
        """Defaults (if enabled) plus the camera's own rules; None when nothing is watched."""
        normal = list(config.normal_prompts) if config.use_defaults else []
        anomaly = list(config.anomaly_prompts) if config.use_defaults else []
        normal += [r for r in rules.get("normal", []) if r not in normal]
        anomaly += [r for r in rules.get("anomaly", []) if r not in anomaly]
        if not anomaly:
            return None
        return cls(tuple(normal or config.normal_prompts), tuple(anomaly))


@dataclass(frozen=True, slots=True)
class ZeroShotResult:
    probability: np.ndarray  # (N,) P(anomalous)
    top_rule: list[str]  # most similar anomaly sentence per frame


class ZeroShotScorer:
    """Scores image embeddings against one camera's embedded prompt set."""

    def __init__(
        self,
        prompts: PromptSet,
        normal_embeds: np.ndarray,
        anomaly_embeds: np.ndarray,
        temperature: float,
    ):
        self.prompts = prompts
        self.normal = np.asarray(normal_embeds, np.float32)
        self.anomaly = np.asarray(anomaly_embeds, np.float32)
        self.temperature = temperature

    @classmethod
    def build(cls, encoder, prompts: PromptSet, temperature: float) -> ZeroShotScorer:
        """Embed the sentences once with the CLIP text tower (`encoder.embed_texts`)."""
        embeds = encoder.embed_texts(list(prompts.normal) + list(prompts.anomaly))
        split = len(prompts.normal)
        return cls(prompts, embeds[:split], embeds[split:], temperature)

    def score(self, image_embeds: np.ndarray) -> ZeroShotResult:
        x = np.asarray(image_embeds, np.float32)
        if len(x) == 0:
            return ZeroShotResult(np.zeros(0, np.float32), [])
        sim_a = x @ self.anomaly.T / self.temperature
        sim_n = x @ self.normal.T / self.temperature
        logit = _group_logit(sim_a) - _group_logit(sim_n)
        probability = (0.5 * (1.0 + np.tanh(0.5 * logit))).astype(np.float32)  # stable sigmoid
        top = [self.prompts.anomaly[i] for i in sim_a.argmax(axis=1)]
        return ZeroShotResult(probability, top)


def _group_logit(logits: np.ndarray) -> np.ndarray:
    peak = logits.max(axis=1, keepdims=True)
    lse = peak[:, 0] + np.log(np.exp(logits - peak).sum(axis=1))
    return lse - math.log(logits.shape[1])


def fuse(stage1: float, probability: float, weight: float) -> tuple[float, str]:
    """The documented fusion rule for one frame, through `vad.scoring.fusion`: (fused score,
    which term fired: 'stage1' or 'zero-shot')."""
    from vad.scoring.fusion import fuse_one

    score, fired = fuse_one({"stage1": stage1, "zero-shot": weight * probability})
    return score, fired or "stage1"


def describe(fired: str, top_rule: str, probability: float) -> str:
    """Human text of what decided a frame, stored with the incident."""
    if fired == "zero-shot":
        return f"watch rule {top_rule!r} (zero-shot p={probability:.2f})"
    return "stage-1 score"
