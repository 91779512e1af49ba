"""The motion baseline: how much more the picture moves than this camera usually moves.

Used when a camera has no fitted normality model yet. Raw value = mean absolute grey-level change
between consecutive kept frames (on a small thumbnail); score = logistic of its z-score against a
running per-camera mean/variance kept in `state`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import Field

from vad.pruning import thumbnail
from vad.scoring.base import Scorer
from vad.section import Section
from vad.types import Frame, ScoreResult


class ScoringConfig(Section):
    """Stage-1 scoring."""

    motion_alpha: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="Learning rate of the motion scorer's running per-camera baseline.",
    )
    motion_z_center: float = Field(
        3.0, description="Baseline z-score that maps to a score of 0.5 in the motion scorer."
    )
    motion_warmup_frames: int = Field(
        20, ge=1, description="Frames the motion baseline sees before its scores count."
    )
    look_ahead_seconds: float = Field(
        0.4,
        ge=0,
        le=1.0,
        description=(
            "Each frame's stage-1 score is the mean of its fused score and those of the frames "
            "captured up to this many seconds after it (vad.scoring.look_ahead): a window is "
            "scored only once that much of the next one arrived, so scores come this much later. "
            "0 = causal scores (no wait). 0.4 (4 frames at 10 fps) chosen on training footage: "
            "docs/benchmarks-normality.md, look-ahead rounds 1 and 2."
        ),
    )


class MotionScorer(Scorer):
    name = "motion-baseline"
    context_frames = 1

    def __init__(self, config: ScoringConfig) -> None:
        self.alpha = config.motion_alpha
        self.z_center = config.motion_z_center
        self.warmup = config.motion_warmup_frames

    def score(
        self, frames: Sequence[Frame], context: Sequence[Frame] = (), state: dict | None = None
    ) -> ScoreResult:
        baseline = dict(state or {"mean": 0.0, "var": 0.0, "count": 0})
        previous = _last_ok(context)
        scores = np.full(len(frames), np.nan)
        raw = np.full(len(frames), np.nan)
        for i, frame in enumerate(frames):
            if not frame.ok:
                continue
            thumb = thumbnail(frame.image, (64, 48))
            if previous is None:
                scores[i], raw[i] = 0.0, 0.0
            else:
                energy = float(np.mean(np.abs(thumb - previous)))
                raw[i] = energy
                scores[i] = self._calibrate(energy, baseline)
                _update_baseline(baseline, energy, self.alpha)
            previous = thumb
        return ScoreResult(scores=scores, raw=raw, state=baseline)

    def _calibrate(self, energy: float, baseline: dict) -> float:
        if baseline["count"] < self.warmup:
            return 0.0
        std = math.sqrt(max(baseline["var"], 1e-6))
        z = (energy - baseline["mean"]) / max(std, 0.05)
        return float(1.0 / (1.0 + math.exp(-(z - self.z_center))))


def _last_ok(context: Sequence[Frame]) -> np.ndarray | None:
    for frame in reversed(context):
        if frame.ok:
            return thumbnail(frame.image, (64, 48))
    return None


def _update_baseline(baseline: dict, value: float, alpha: float) -> None:
    """Exponentially weighted mean/variance; the first frames use a plain running mean."""
    count = baseline["count"] + 1
    rate = max(alpha, 1.0 / count)
    delta = value - baseline["mean"]
    baseline["mean"] += rate * delta
    baseline["var"] = (1 - rate) * (baseline["var"] + rate * delta * delta)
    baseline["count"] = count
