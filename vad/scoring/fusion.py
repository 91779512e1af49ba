"""Score fusion: the one place that turns the calibrated scores of stage 1's models (pixel,
velocity, object, appearance, zero-shot) into the frame score and says which model fired.

Every term is already calibrated on the camera's own held-out normal footage (0.5 = as rare as
the reference quantile of normal), so they are comparable and the frame score is their maximum:
each model keeps its recall, and the one that decided is named. The worker, `vad eval` and
`bench/` all call this module, so what is measured is what runs.

Rules: a frame the primary term (stage 1's own score) could not score (NaN: undecodable) stays
NaN whatever the other terms say; otherwise NaN terms are ignored. Ties go to the earlier term
(the primary first), so a frame no companion model raises is attributed to stage 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fusion:
    """Fused score per frame and the name of the term that decided it (None where NaN)."""

    scores: np.ndarray
    fired: list[str | None]


def fuse(terms: Mapping[str, np.ndarray], primary: str | None = None) -> Fusion:
    """Max over the terms, per frame; `primary` (default: the first term) gates NaN frames."""
    if not terms:
        raise ValueError("nothing to fuse")
    names = list(terms)
    primary = primary if primary is not None else names[0]
    if primary not in terms:
        raise ValueError(f"primary term {primary!r} is not among {names}")
    order = [primary] + [n for n in names if n != primary]
    stack = np.stack([np.asarray(terms[n], dtype=np.float64) for n in order])
    filled = np.where(np.isnan(stack), -np.inf, stack)
    best = np.argmax(filled, axis=0)
    scores = filled[best, np.arange(stack.shape[1])]
    lost = np.isnan(stack[0])
    scores = np.where(lost, np.nan, scores)
    fired = [None if lost[i] else order[b] for i, b in enumerate(best)]
    return Fusion(scores, fired)


def fuse_one(terms: Mapping[str, float], primary: str | None = None) -> tuple[float, str | None]:
    """`fuse` for a single frame: (score, fired)."""
    result = fuse({k: np.array([v], dtype=np.float64) for k, v in terms.items()}, primary)
    return float(result.scores[0]), result.fired[0]
