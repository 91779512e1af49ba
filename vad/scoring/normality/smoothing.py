"""Temporal smoothing of per-frame scores.

Anomalies last for many frames while feature noise does not, so averaging a few neighbouring
frames raises the contrast between the two. The same function serves offline evaluation (centred
kernel over the whole video) and live windows (causal half kernel: a frame's score depends only on
itself and earlier frames, so re-scoring a window with its context gives the same numbers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def smoothing_radius(sigma: float) -> int:
    """Frames each side the kernel reaches (2 sigma keeps ~95% of the Gaussian mass)."""
    return int(math.ceil(2.0 * sigma)) if sigma > 0 else 0


def _kernel(sigma: float, causal: bool) -> tuple[np.ndarray, int]:
    radius = smoothing_radius(sigma)
    offsets = np.arange(-radius, 1 if causal else radius + 1)
    return np.exp(-0.5 * (offsets / sigma) ** 2), radius


def smooth_scores(
    scores: Sequence[float] | np.ndarray, sigma: float, causal: bool = False
) -> np.ndarray:
    """Gaussian-smooth `scores` along time, ignoring NaN (NaN inputs stay NaN).

    Weights are renormalised over the valid neighbours, so the ends of a video and gaps from
    undecodable frames do not pull scores towards zero. `causal=True` uses only the current and
    preceding frames.
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    if sigma <= 0 or x.size == 0:
        return x.copy()
    weights, radius = _kernel(sigma, causal)
    return window_mean(x, weights, radius, 0 if causal else radius)


def window_mean(x: np.ndarray, weights: np.ndarray, behind: int, ahead: int) -> np.ndarray:
    """Weighted mean of each frame's window [t - behind, t + ahead] (`weights` has one weight
    per offset), renormalised over the valid neighbours: NaN frames are ignored and stay NaN,
    and the window shrinks at the ends."""
    valid = np.isfinite(x)
    values = np.where(valid, x, 0.0)
    padded_v = np.pad(values, (behind, ahead))
    padded_m = np.pad(valid.astype(np.float64), (behind, ahead))
    # np.convolve flips the kernel; correlate keeps offsets aligned with the kernel's definition.
    num = np.correlate(padded_v, weights, mode="valid")
    den = np.correlate(padded_m, weights, mode="valid")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~valid] = np.nan
    return out
