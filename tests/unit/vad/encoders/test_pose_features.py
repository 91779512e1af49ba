"""Pose features: invariant to where the person is and how large, keep the pose's proportions,
and flag keypoints the estimator is unsure of."""

from __future__ import annotations

import numpy as np
import pytest

from vad.encoders.pose import KEYPOINTS
from vad.encoders.pose_features import FEATURE_NAMES, pose_features

RNG = np.random.default_rng(1)


def person(box=(100.0, 50.0, 120.0, 100.0)) -> np.ndarray:
    x1, y1, x2, y2 = box
    points = np.empty((len(KEYPOINTS), 3), np.float32)
    points[:, 0] = RNG.uniform(x1, x2, len(KEYPOINTS))
    points[:, 1] = RNG.uniform(y1, y2, len(KEYPOINTS))
    points[:, 2] = RNG.uniform(0.3, 1.0, len(KEYPOINTS))
    return points


def test_same_pose_moved_and_scaled_gives_the_same_features() -> None:
    box = (100.0, 50.0, 120.0, 100.0)
    points = person(box)
    features = pose_features(points, box)
    assert features.shape == (len(FEATURE_NAMES),) == (51,)
    moved = points.copy()
    moved[:, :2] = (points[:, :2] - [100, 50]) * 3 + [10, 20]
    assert np.allclose(pose_features(moved, (10.0, 20.0, 70.0, 170.0)), features, atol=1e-5)
    assert np.all(np.abs(features.reshape(-1, 3)[:, :2]) <= 0.5 + 1e-6)


def test_lying_and_standing_differ() -> None:
    standing = (0.0, 0.0, 20.0, 60.0)
    points = person(standing)
    lying = points.copy()
    lying[:, [0, 1]] = points[:, [1, 0]]  # the same body turned on its side
    a = pose_features(points, standing).reshape(-1, 3)
    b = pose_features(lying, (0.0, 0.0, 60.0, 20.0)).reshape(-1, 3)
    assert np.ptp(a[:, 1]) > np.ptp(a[:, 0]) and np.ptp(b[:, 0]) > np.ptp(b[:, 1])


def test_unsure_keypoints_are_zeroed_and_flagged() -> None:
    box = (0.0, 0.0, 20.0, 60.0)
    points = person(box)
    points[KEYPOINTS.index("left_wrist"), 2] = 0.05
    rows = pose_features(points, box, min_score=0.2).reshape(-1, 3)
    wrist = KEYPOINTS.index("left_wrist")
    assert rows[wrist].tolist() == [0.0, 0.0, 0.0]
    assert np.all(np.delete(rows, wrist, 0)[:, 2] == 1.0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="keypoints"):
        pose_features(np.zeros((5, 3)), (0, 0, 1, 1))
    with pytest.raises(ValueError, match="empty person box"):
        pose_features(person(), (5.0, 5.0, 5.0, 5.0))
