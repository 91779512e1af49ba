"""Score fusion: the one place that turns the calibrated scores of stage 1's models (pixel,
velocity, object, appearance, zero-shot) into the frame score and says which model fired.

Every term is already calibrated on the camera's own held-out normal footage (0.5 = as rare as
the reference quantile of normal), so they are comparable and the frame score is their maximum:
each model keeps its recall, and the one that decided is named. The worker, `vad eval` and
`bench/` all call this module, so what is measured is what runs.

Stage 1's two motion models (`JOINT_TERMS`: pixel and velocity) are first combined by Fisher's
method: a calibrated score c is a surprise L = L_ref c / (1 - c) (-log of its tail probability,
Exp(1) on normal footage), the surprises of the k terms a frame has are added and the sum is
turned back into the surprise of a Gamma(k, 1) variable, so the combined score keeps its
calibrated meaning (0.5 = as rare as the reference quantile) while two models that are both a
little surprised add up. Chosen on the training-only proxy (`bench/stage1_proxy.py`,
docs/benchmarks-normality.md "Fusion round"). The max with the other terms is associative with
it: the worker's scorer combines the motion terms, its encoding step takes the max with the
object model's, `vad eval` does both in one call, and the frame score is the same.

Rules: a frame the primary term (stage 1's own score) could not score (NaN: undecodable) stays
NaN whatever the other terms say; otherwise NaN terms are ignored. Ties go to the earlier term
(the primary first), so a frame no companion model raises is attributed to stage 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

JOINT_TERMS = ("pixel", "velocity")
REFERENCE_QUANTILE = 0.99  # the models' default `reference_quantile`: calibrated 0.5
_L_REF = -np.log(1.0 - REFERENCE_QUANTILE)


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
    lost = np.isnan(stack[0])
    joint = [i for i, n in enumerate(order) if n in JOINT_TERMS]
    if len(joint) > 1:
        stack, order = _combine_joint(stack, order, joint)
    filled = np.where(np.isnan(stack), -np.inf, stack)
    best = np.argmax(filled, axis=0)
    scores = filled[best, np.arange(stack.shape[1])]
    scores = np.where(lost, np.nan, scores)
    fired = [None if lost[i] else order[b] for i, b in enumerate(best)]
    return Fusion(scores, fired)


def _combine_joint(
    stack: np.ndarray, order: list[str], joint: list[int]
) -> tuple[np.ndarray, list[str]]:
    """The joint terms' rows replaced by one row per term holding their Fisher combination where
    that term is the frame's most surprised joint term (else NaN), so the max and the name of
    what fired work as for any other term."""
    rows = stack[joint]
    combined = combine_surprises(rows)
    filled = np.where(np.isnan(rows), -np.inf, rows)
    leader = np.argmax(filled, axis=0)
    out = stack.copy()
    for j, i in enumerate(joint):
        out[i] = np.where(leader == j, combined, np.nan)
    return out, order


def combine_surprises(scores: np.ndarray) -> np.ndarray:
    """Fisher's method over the rows of calibrated scores (NaN rows of a frame ignored; a frame
    with one finite score keeps it; none: NaN)."""
    c = np.clip(scores, 0.0, 1.0 - 1e-15)
    surprise = _L_REF * c / (1.0 - c)
    finite = np.isfinite(surprise)
    k = finite.sum(axis=0)
    total = np.where(finite, surprise, 0.0).sum(axis=0)
    # -log P(Gamma(k, 1) > total) = total - log sum_{i<k} total^i / i!
    log_total = np.log(np.maximum(total, 1e-300))
    log_sum = np.full(total.shape, -np.inf)
    for i in range(int(k.max(initial=0))):
        term = i * log_total - float(np.log(np.arange(1, i + 1)).sum())
        log_sum = np.where(i < k, np.logaddexp(log_sum, term), log_sum)
    combined = np.where(k > 0, np.maximum(total - log_sum, 0.0), np.nan)
    return combined / (combined + _L_REF)


def fuse_one(terms: Mapping[str, float], primary: str | None = None) -> tuple[float, str | None]:
    """`fuse` for a single frame: (score, fired)."""
    result = fuse({k: np.array([v], dtype=np.float64) for k, v in terms.items()}, primary)
    return float(result.scores[0]), result.fired[0]
