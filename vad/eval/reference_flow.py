"""The 40-line optical-flow reference of issue 17, printed beside stage 1 by every evaluation.

A deliberately simple detector: if stage 1 does not beat it on a camera, stage 1's defaults do not
hold there. Per frame: grey, resized to 160x90, Farneback flow to the next frame (pyramid scale
0.5, 3 levels, window 9, 3 iterations, poly_n 5, poly_sigma 1.1), mean flow magnitude per cell of
a 6 x 9 grid, each cell divided by its own 99.5th percentile over the training clips (+1e-3), max
over cells, 9-frame centred moving average.

The issue's text leaves four conventions open; these are the ones that reproduce its Ped1 figures
(pooled AUC 0.841, mean per-video AUC 0.865): the resize is `INTER_AREA`; cell borders are
`floor(linspace(0, size, cells + 1))` (cells of 15 rows x 17-18 columns); the flow from frame i to
frame i + 1 belongs to frame i and the last frame repeats the one before (the training
percentile counts each measured flow once, without that repeat); the moving average
near a clip's ends averages the frames that exist (the window shrinks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class ReferenceFlowConfig:
    """Every constant of the reference; the defaults are the issue's and should stay so."""

    width: int = 160
    height: int = 90
    rows: int = 6
    cols: int = 9
    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 9
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.1
    quantile: float = 99.5
    epsilon: float = 1e-3
    smoothing_frames: int = 9


def _grey(frame: np.ndarray, config: ReferenceFlowConfig) -> np.ndarray:
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return cv2.resize(grey, (config.width, config.height), interpolation=cv2.INTER_AREA)


def _cell_means(magnitude: np.ndarray, config: ReferenceFlowConfig) -> np.ndarray:
    rows = np.linspace(0, config.height, config.rows + 1).astype(int)
    cols = np.linspace(0, config.width, config.cols + 1).astype(int)
    sums = np.add.reduceat(np.add.reduceat(magnitude, rows[:-1], axis=0), cols[:-1], axis=1)
    return sums / np.outer(np.diff(rows), np.diff(cols))


def flow_cells(frames: Iterable[np.ndarray], config: ReferenceFlowConfig) -> np.ndarray:
    """(frames - 1, rows, cols): mean Farneback flow magnitude per cell from each frame to the
    next, in 160x90 pixels."""
    cells: list[np.ndarray] = []
    previous: np.ndarray | None = None
    for frame in frames:
        grey = _grey(frame, config)
        if previous is not None:
            flow = cv2.calcOpticalFlowFarneback(
                previous,
                grey,
                None,
                config.pyr_scale,
                config.levels,
                config.winsize,
                config.iterations,
                config.poly_n,
                config.poly_sigma,
                0,
            )
            cells.append(_cell_means(np.hypot(flow[..., 0], flow[..., 1]), config))
        previous = grey
    return np.stack(cells) if cells else np.zeros((0, config.rows, config.cols))


def cell_motion(frames: Iterable[np.ndarray], config: ReferenceFlowConfig) -> np.ndarray:
    """(frames, rows, cols): each frame's flow to the next, the last frame repeating the one
    before (a clip of one frame has no motion: zeros)."""
    frames = list(frames)
    flows = flow_cells(frames, config)
    if not frames:
        return flows
    last = flows[-1:] if len(flows) else np.zeros((1, config.rows, config.cols))
    return np.concatenate([flows, last])


def centred_mean(values: np.ndarray, frames: int) -> np.ndarray:
    """Centred moving average over `frames` (odd); near the ends, of the frames that exist."""
    values = np.asarray(values, np.float64)
    half, n = frames // 2, len(values)
    sums = np.concatenate([[0.0], np.cumsum(values)])
    low = np.clip(np.arange(n) - half, 0, n)
    high = np.clip(np.arange(n) + half + 1, 0, n)
    return (sums[high] - sums[low]) / (high - low)


class ReferenceFlow:
    """The reference fitted on one camera's normal clips: one scale per grid cell."""

    def __init__(self, scales: np.ndarray, config: ReferenceFlowConfig) -> None:
        self.scales = scales
        self.config = config

    @classmethod
    def fit(
        cls, clips: Iterable[Iterable[np.ndarray]], config: ReferenceFlowConfig | None = None
    ) -> ReferenceFlow:
        """Each cell's `quantile` over the training flows (every measured frame pair once; clips
        are read one at a time)."""
        config = config or ReferenceFlowConfig()
        motion = [flow_cells(clip, config) for clip in clips]
        motion = [m for m in motion if len(m)]
        if not motion:
            raise ValueError("the reference needs at least one training frame")
        scales = np.percentile(np.concatenate(motion), config.quantile, axis=0)
        return cls(scales + config.epsilon, config)

    def score(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """One score per frame of a whole clip (the moving average needs the clip's future)."""
        motion = cell_motion(frames, self.config)
        if not len(motion):
            return np.zeros(0)
        worst = (motion / self.scales).max(axis=(1, 2))
        return centred_mean(worst, self.config.smoothing_frames)
