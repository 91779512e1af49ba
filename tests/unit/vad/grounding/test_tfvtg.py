"""Training-free grounding mechanics on constructed curves: smoothing across short holes but not
long gaps, proposal scores, NMS, and the times reported."""

from __future__ import annotations

import numpy as np
import pytest

from vad.grounding import ground, ground_curve, similarity
from vad.grounding.config import GroundingConfig
from vad.grounding.curve import gaussian_kernel, resample
from vad.grounding.proposals import make_proposals, nms, score_proposals

CONFIG = GroundingConfig(sigma_seconds=1.0, max_gap_seconds=5.0, scales_seconds=(2, 4, 8, 16))


def bump(times: np.ndarray, start: float, end: float, height: float = 1.0) -> np.ndarray:
    return np.where((times >= start) & (times < end), height, 0.0)


def test_kernel_is_normalised_and_symmetric() -> None:
    kernel = gaussian_kernel(2.0)
    assert kernel.sum() == pytest.approx(1.0)
    assert np.allclose(kernel, kernel[::-1]) and kernel.argmax() == kernel.size // 2


def test_short_holes_are_filled_long_gaps_split_the_footage() -> None:
    times = np.r_[np.arange(0, 10), np.arange(12, 20), np.arange(40, 50)].astype(float)
    grid = resample(np.ones_like(times), times, 1.0, 1.0, max_gap_seconds=5.0)
    assert grid.valid[10] and grid.valid[11]  # 3 s hole: bridged
    assert not grid.valid[25]  # 20 s gap: invalid
    assert np.allclose(grid.values[grid.valid], 1.0)  # normalised convolution: no sag at holes


def test_smoothing_does_not_leak_across_a_gap() -> None:
    times = np.r_[np.arange(0, 10), np.arange(30, 40)].astype(float)
    values = np.r_[np.zeros(10), np.ones(10)]
    grid = resample(values, times, 1.0, 3.0, max_gap_seconds=5.0)
    assert np.allclose(grid.values[:10], 0.0) and np.allclose(grid.values[30:40], 1.0)


def test_proposals_stay_inside_valid_stretches() -> None:
    times = np.r_[np.arange(0, 30), np.arange(60, 90)].astype(float)
    grid = resample(np.sin(times / 3), times, 1.0, 1.0, 5.0)
    p = make_proposals(grid, (2.0, 8.0, 16.0), (0.5, 0.8))
    assert len(p) > 0
    for s, e in zip(p.start, p.end, strict=True):
        assert grid.valid[s:e].all() and e > s


def test_static_and_dynamic_terms() -> None:
    values = np.r_[np.zeros(20), np.ones(10), np.zeros(20)]
    grid = resample(values, np.arange(50.0), 1.0, 0.01, 5.0)
    p = make_proposals(grid, (10.0,), ())
    scores = score_proposals(grid.values, p, dynamic_weight=0.0)
    exact = int(np.flatnonzero((p.start == 20) & (p.end == 30))[0])
    assert scores[exact] == pytest.approx(1.0) and scores.argmax() == exact
    rising = score_proposals(grid.values, p, dynamic_weight=1.0)
    assert rising[exact] == pytest.approx(2.0)  # inside 1, flanks 0, rise 1


def test_nms_keeps_the_best_and_drops_overlaps() -> None:
    starts, ends = np.array([0.0, 1.0, 20.0, 21.0]), np.array([10.0, 11.0, 30.0, 29.0])
    kept = nms(starts, ends, np.array([0.9, 0.8, 0.7, 0.95]), iou=0.5, k=5)
    assert kept == [3, 0]


def test_ground_finds_the_bump_with_its_times() -> None:
    times = np.arange(1000.0, 1100.0, 0.5)  # epoch-like offset, 2 fps
    values = bump(times, 1040, 1050) + 0.05 * np.sin(times)
    moments = ground_curve(values, times, CONFIG, k=3)
    best = moments[0]
    assert best.start == pytest.approx(1040, abs=1.0) and best.end == pytest.approx(1050, abs=1.0)
    assert [m.score for m in moments] == sorted((m.score for m in moments), reverse=True)


def test_irregular_pruned_frames_keep_real_times() -> None:
    rng = np.random.default_rng(1)
    times = np.sort(rng.choice(np.arange(0.0, 300.0, 0.5), 200, replace=False))
    moments = ground_curve(
        bump(times, 120, 140), times, CONFIG.model_copy(update={"grid_seconds": 1.0}), k=1
    )
    assert moments[0].start == pytest.approx(120, abs=2.0)
    assert moments[0].end == pytest.approx(140, abs=2.0)


def test_moments_never_span_an_offline_camera() -> None:
    times = np.r_[np.arange(0, 60), np.arange(600, 660)].astype(float)
    values = np.r_[bump(times[:60], 50, 60), bump(times[60:], 600, 610)]
    for m in ground_curve(values, times, CONFIG, k=10):
        assert m.end <= 61 or m.start >= 600


def test_ground_with_embeddings() -> None:
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((200, 16)).astype(np.float32)
    query = rng.standard_normal(16).astype(np.float32)
    frames[80:100] += 3 * query
    sims = similarity(query, frames)
    assert sims.shape == (200,) and sims[80:100].min() > sims[:80].max()
    best = ground(query, frames, np.arange(200.0), CONFIG, k=1)[0]
    assert (best.start, best.end) == pytest.approx((80, 100), abs=2.0)


def test_empty_and_mismatched_input() -> None:
    assert ground_curve(np.zeros(0), np.zeros(0), CONFIG) == []
    with pytest.raises(ValueError):
        ground_curve(np.zeros(3), np.zeros(4), CONFIG)
    single = ground_curve(np.ones(1), np.array([5.0]), CONFIG)
    assert single[0].start == 5.0 and single[0].end == 6.0
