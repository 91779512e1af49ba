"""Density-aware frame selection (Holmes-VAU style) for the expensive second stage.

Given cheap per-frame scores, choose K frames to look at closely: many where scores are high, but
never none elsewhere, and evenly spread when nothing stands out. The frames are the K quantiles of
a density that mixes a uniform floor with the normalised score mass, so the uniform part keeps
coverage of the whole clip and the score part concentrates picks on peaks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def selection_density(scores: Sequence[float] | np.ndarray, uniform: float = 0.5) -> np.ndarray:
    """Per-frame probability mass: `uniform` spread evenly + (1 - uniform) proportional to how far
    each score sits above the clip's minimum (NaN counts as the minimum); constant clips: uniform.
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    n = x.size
    if n == 0:
        return x
    finite = np.isfinite(x)
    base = x[finite].min() if finite.any() else 0.0
    excess = np.where(finite, x - base, 0.0)
    total = excess.sum()
    score_part = excess / total if total > 0 else np.full(n, 1.0 / n)
    return uniform / n + (1.0 - uniform) * score_part


def select_frames(scores: Sequence[float] | np.ndarray, k: int, uniform: float = 0.5) -> list[int]:
    """K sorted, unique frame indices, denser where scores are high.

    Inverse-CDF sampling at the K mid-quantiles (deterministic, stratified). If two quantiles land
    on the same frame the duplicates are replaced by the nearest unused frames, so exactly
    min(k, n) indices come back.
    """
    density = selection_density(scores, uniform)
    n = density.size
    if k <= 0 or n == 0:
        return []
    if k >= n:
        return list(range(n))
    cdf = np.cumsum(density)
    cdf /= cdf[-1]
    targets = (np.arange(k) + 0.5) / k
    picks = np.minimum(np.searchsorted(cdf, targets, side="left"), n - 1)
    return _dedupe(picks.tolist(), n)


def _dedupe(picks: list[int], n: int) -> list[int]:
    """Resolve collisions by moving to the closest free index (ties go right first)."""
    used: set[int] = set()
    for p in picks:
        if p not in used:
            used.add(p)
            continue
        for step in range(1, n):
            for cand in (p + step, p - step):
                if 0 <= cand < n and cand not in used:
                    used.add(cand)
                    break
            else:
                continue
            break
    return sorted(used)
