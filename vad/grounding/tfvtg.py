"""Training-free temporal grounding (after TFVTG, Zheng et al. 2024), pure numpy.

A text embedding is compared with every stored frame embedding of a camera (same CLIP space), the
cosine similarity curve is put on a regular grid and Gaussian-smoothed, proposals are scored by a
static term (mean inside minus mean around) and a dynamic term (the rise at the start), and
temporal NMS keeps the top k. Times are whatever the timestamps are (seconds of a video, or epoch
seconds of a camera).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vad.grounding.config import GroundingConfig
from vad.grounding.curve import Grid, grid_step, resample
from vad.grounding.proposals import make_proposals, nms, score_proposals


@dataclass(frozen=True, slots=True)
class Moment:
    """A found segment: [start, end) in the timestamps' unit, its score and peak similarity."""

    start: float
    end: float
    score: float
    peak: float


def similarity(query: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Cosine similarity of one (D,) query to (T, D) embeddings, whatever their norms."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    e = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(e, axis=1) * max(float(np.linalg.norm(q)), 1e-12)
    return (e @ q) / np.maximum(norms, 1e-12)


def smoothed_curve(values: np.ndarray, timestamps: np.ndarray, config: GroundingConfig) -> Grid:
    step = grid_step(np.asarray(timestamps, dtype=np.float64), config.grid_seconds)
    return resample(values, timestamps, step, config.sigma_seconds, config.max_gap_seconds)


def ground_curve(
    values: np.ndarray, timestamps: np.ndarray, config: GroundingConfig, k: int = 5
) -> list[Moment]:
    """Top-k moments of a per-frame relevance curve (any score, higher = more relevant)."""
    if len(values) == 0:
        return []
    if len(values) != len(timestamps):
        raise ValueError(f"{len(values)} values but {len(timestamps)} timestamps")
    grid = smoothed_curve(values, timestamps, config)
    proposals = make_proposals(grid, config.scales_seconds, config.thresholds)
    if not len(proposals):
        return []
    scores = score_proposals(grid.values, proposals, config.dynamic_weight)
    kept = nms(proposals.start, proposals.end, scores, config.nms_iou, k)
    last = float(np.max(timestamps)) + grid.step
    moments = []
    for i in kept:
        begin, end = int(proposals.start[i]), int(proposals.end[i])
        moments.append(
            Moment(
                start=float(grid.time(begin)),
                end=float(min(grid.time(end), last)),
                score=float(scores[i]),
                peak=float(grid.values[begin:end].max()),
            )
        )
    return moments


def ground(
    query: np.ndarray,
    embeddings: np.ndarray,
    timestamps: np.ndarray,
    config: GroundingConfig,
    k: int = 5,
) -> list[Moment]:
    """Top-k moments of the footage (frame `embeddings` at `timestamps`) matching `query`."""
    return ground_curve(similarity(query, embeddings), timestamps, config, k)
