"""Similarity curves on a regular time grid.

Stored frames arrive at irregular times: the sampler thins them, the pruner drops static ones and
cameras go offline. Smoothing and proposal arithmetic want a regular grid, so samples are binned
onto one; short holes (a pruned static scene) are filled by normalised convolution, long holes
(camera offline) stay invalid and split the footage so no moment spans them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Grid:
    """A curve on times `t0 + i * step`; `valid[i]` is False inside long gaps."""

    t0: float
    step: float
    values: np.ndarray
    valid: np.ndarray

    def time(self, index: np.ndarray | int) -> np.ndarray | float:
        return self.t0 + np.asarray(index, dtype=np.float64) * self.step


def grid_step(timestamps: np.ndarray, step: float = 0.0) -> float:
    """The configured step, else the median spacing of the frames (1 s for a single frame)."""
    if step > 0:
        return float(step)
    gaps = np.diff(np.unique(timestamps))
    return float(np.median(gaps)) if gaps.size else 1.0


def gaussian_kernel(sigma_cells: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma_cells)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / max(sigma_cells, 1e-6)) ** 2)
    return kernel / kernel.sum()


def _convolve(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Same-length, centred convolution (also when the kernel is longer than the values)."""
    full = np.convolve(values, kernel, mode="full")
    radius = kernel.size // 2
    return full[radius : radius + values.size]


def resample(
    values: np.ndarray,
    timestamps: np.ndarray,
    step: float,
    sigma_seconds: float,
    max_gap_seconds: float,
) -> Grid:
    """Bin (time, value) samples onto a grid and Gaussian-smooth them, not across long gaps.

    Normalised convolution (smooth values*mask, divide by smoothed mask) fills short holes with the
    nearby samples' weighted mean instead of dragging the curve towards zero."""
    timestamps = np.asarray(timestamps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    t0 = float(timestamps.min())
    index = np.rint((timestamps - t0) / step).astype(np.int64)  # cell i is centred on t0 + i*step
    size = int(index.max()) + 1
    sums = np.bincount(index, weights=values, minlength=size)
    counts = np.bincount(index, minlength=size).astype(np.float64)
    has = counts > 0
    valid = _inside_short_gaps(np.flatnonzero(has), size, step, max_gap_seconds)
    kernel = gaussian_kernel(sigma_seconds / step)
    mean = np.where(has, sums / np.maximum(counts, 1), 0.0)
    smoothed = np.zeros(size)
    for begin, end in runs(valid):  # smooth each stretch alone: nothing leaks across a gap
        num = _convolve(mean[begin:end] * has[begin:end], kernel)
        den = _convolve(has[begin:end].astype(np.float64), kernel)
        smoothed[begin:end] = num / np.maximum(den, 1e-12)
    return Grid(t0, step, smoothed, valid)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[begin, end) of each run of True."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def _inside_short_gaps(filled: np.ndarray, size: int, step: float, max_gap: float) -> np.ndarray:
    """Cells with a sample, plus empty cells in holes no longer than `max_gap` seconds."""
    valid = np.zeros(size, dtype=bool)
    valid[filled] = True
    holes = np.diff(filled) - 1
    short = np.flatnonzero((holes > 0) & ((holes + 1) * step <= max_gap))
    for left, hole in zip(filled[short].tolist(), holes[short].tolist(), strict=True):
        valid[left + 1 : left + 1 + hole] = True
    return valid
