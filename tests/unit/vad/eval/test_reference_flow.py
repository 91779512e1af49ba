"""The optical-flow reference on synthetic footage: what moves unusually scores high, per cell."""

from __future__ import annotations

import numpy as np
import pytest

from vad.eval.reference_flow import (
    ReferenceFlow,
    ReferenceFlowConfig,
    cell_motion,
    centred_mean,
    flow_cells,
)

W, H = 320, 180  # twice the reference's 160x90: one cell is 35 x 30 px here


def _background(seed: int = 0) -> np.ndarray:
    """A smooth random texture (flow needs texture to be measured)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (H // 8, W // 8), dtype=np.uint8)
    return np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)


def _clip(frames: int, square_at=None, seed: int = 0) -> list[np.ndarray]:
    """Grey frames of a still textured scene; `square_at(i)` -> (x, y) of a bright 24 px square."""
    rng = np.random.default_rng(seed + 1)
    base = _background()
    out = []
    for i in range(frames):
        frame = np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)
        if square_at is not None and square_at(i) is not None:
            x, y = square_at(i)
            frame[y : y + 24, x : x + 24] = 250
            frame[y + 8 : y + 16, x + 8 : x + 16] = 20  # texture inside the square
        out.append(frame)
    return out


def test_cell_motion_has_one_grid_per_frame_and_repeats_the_last() -> None:
    config = ReferenceFlowConfig()
    motion = cell_motion(_clip(5, lambda i: (40 + 6 * i, 60)), config)
    assert motion.shape == (5, 6, 9)
    assert np.array_equal(motion[-1], motion[-2])
    assert cell_motion(_clip(1), config).shape == (1, 6, 9)
    assert not cell_motion(_clip(1), config).any()
    assert cell_motion([], config).shape == (0, 6, 9)


def test_a_square_moving_only_in_test_scores_higher_than_the_still_frames() -> None:
    reference = ReferenceFlow.fit([_clip(20, seed=s) for s in range(3)])
    assert reference.scales.shape == (6, 9)
    moving = lambda i: (20 + 8 * (i - 20), 80) if i >= 20 else None  # noqa: E731
    scores = reference.score(_clip(40, moving, seed=9))
    assert scores.shape == (40,)
    assert scores[25:].min() > 5 * scores[:12].max()


def test_each_cell_is_divided_by_its_own_training_motion() -> None:
    """A square that always moves in the top-left cell during training is normal there: the same
    motion scores far lower there than in the bottom-right cell, which was always still."""
    top_left = lambda i: (4 + 2 * (i % 4), 4)  # noqa: E731 - stays within the first cell
    reference = ReferenceFlow.fit([_clip(24, top_left, seed=s) for s in range(3)])
    assert reference.scales[0, 0] > 10 * reference.scales[5, 8]
    bottom_right = lambda i: (W - 30 + 2 * (i % 4) - 6, H - 28)  # noqa: E731
    usual = reference.score(_clip(24, top_left, seed=7))
    unusual = reference.score(_clip(24, bottom_right, seed=7))
    assert np.median(unusual) > 5 * np.median(usual)


def test_scales_are_the_training_quantile_plus_epsilon() -> None:
    config = ReferenceFlowConfig()
    clips = [_clip(10, lambda i: (30 + 5 * i, 50), seed=s) for s in range(2)]
    flows = np.concatenate([flow_cells(c, config) for c in clips])
    assert len(flows) == 18  # 9 frame pairs per clip: the last frame's repeat is not counted
    expected = np.percentile(flows, 99.5, axis=0)
    assert ReferenceFlow.fit(clips, config).scales == pytest.approx(expected + 1e-3)


def test_centred_mean_averages_the_frames_that_exist_near_the_ends() -> None:
    values = np.array([9.0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    smoothed = centred_mean(values, 9)
    assert smoothed[0] == pytest.approx(9 / 5)  # frames 0..4
    assert smoothed[4] == pytest.approx(1.0)  # frames 0..8
    assert smoothed[5] == 0.0
    assert centred_mean(np.full(3, 2.0), 9) == pytest.approx([2.0, 2.0, 2.0])


def test_fit_without_frames_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one training frame"):
        ReferenceFlow.fit([[], []])
