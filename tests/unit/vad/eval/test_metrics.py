"""Frame-level metrics."""

from __future__ import annotations

import numpy as np
import pytest

from vad.eval.metrics import frame_metrics, per_video_auc


def test_perfect_and_inverted_rankings() -> None:
    y = np.array([0, 0, 1, 1])
    assert frame_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["auc"] == 1.0
    assert frame_metrics(y, np.array([0.9, 0.8, 0.2, 0.1]))["auc"] == 0.0
    assert frame_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["ap"] == pytest.approx(1.0)


def test_single_class_gives_none_and_nan_counts_as_lowest() -> None:
    assert frame_metrics(np.ones(3), np.arange(3.0))["auc"] is None
    m = frame_metrics(np.array([0, 1, 1]), np.array([0.5, np.nan, 0.9]))
    assert m["auc"] == 0.5 and m["frames"] == 3 and m["anomalous_frames"] == 2


def test_per_video_auc_skips_one_class_videos() -> None:
    labels = {"a": np.array([0, 1]), "b": np.array([1, 1])}
    scores = {"a": np.array([0.0, 1.0]), "b": np.array([0.3, 0.4])}
    assert per_video_auc(labels, scores) == {"a": 1.0}


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        frame_metrics(np.zeros(3), np.zeros(4))
