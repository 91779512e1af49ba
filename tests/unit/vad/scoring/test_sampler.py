"""Density-aware frame selection, including on real normality scores of a Ped2 clip."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from vad.scoring.sampler import select_frames, selection_density


def test_constant_and_nan_scores_give_an_even_spread() -> None:
    picks = select_frames([0.2] * 100, 10)
    assert picks == sorted(set(picks)) and len(picks) == 10
    assert set(np.diff(picks)) <= {9, 10, 11}
    assert select_frames([np.nan] * 50, 5) == select_frames([0.0] * 50, 5)


def test_k_at_least_n_returns_everything_and_k_zero_nothing() -> None:
    assert select_frames([0.1, 0.9, 0.3], 5) == [0, 1, 2]
    assert select_frames([0.1, 0.9], 0) == []
    assert select_frames([], 3) == []


def test_peaks_attract_more_picks_but_the_rest_is_still_covered() -> None:
    scores = np.zeros(200)
    scores[120:140] = 1.0
    picks = select_frames(scores, 20)
    assert len(picks) == 20 == len(set(picks))
    inside = sum(120 <= p < 140 for p in picks)
    assert inside >= 8  # 10% of the frames get ~half the picks
    assert min(picks) < 20 and max(picks) > 180


def test_density_sums_to_one() -> None:
    d = selection_density([0.0, 1.0, np.nan, 3.0])
    assert d.sum() == pytest.approx(1.0) and np.all(d > 0)


def test_on_real_scores_of_a_bicycle_clip(ped2: Path) -> None:
    from vad.scoring.normality import NormalityConfig, fit_normality_model
    from vad.video import iter_video_frames

    train = [list(itertools.islice(iter_video_frames(ped2 / "train" / "train_01.mp4"), 40))]
    model = fit_normality_model(train, NormalityConfig(memory_per_cell=64, calibration_folds=2))
    frames = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    _, scores = model.score_frames(frames)
    picks = select_frames(scores, 16)
    assert len(picks) == 16 and picks == sorted(set(picks))
    assert np.mean(scores[picks] >= np.median(scores)) >= 0.5
