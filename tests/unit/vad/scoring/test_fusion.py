"""The one fusion rule: max of calibrated terms, the deciding term named, NaN primary stays NaN."""

from __future__ import annotations

import numpy as np
import pytest

from vad.encoders.zero_shot import fuse as zero_shot_fuse
from vad.scoring.fusion import fuse, fuse_one


def test_max_wins_and_is_named():
    result = fuse(
        {
            "pixel": np.array([0.2, 0.9, 0.4, np.nan]),
            "velocity": np.array([0.7, 0.1, np.nan, 0.8]),
            "objects": np.array([np.nan, 0.3, 0.5, 0.9]),
        }
    )
    np.testing.assert_allclose(result.scores[:3], [0.7, 0.9, 0.5])
    assert np.isnan(result.scores[3])  # the primary could not score it: undecodable frame
    assert result.fired == ["velocity", "pixel", "objects", None]


def test_ties_go_to_the_primary_even_when_listed_later():
    result = fuse({"zero-shot": np.array([0.5]), "stage1": np.array([0.5])}, primary="stage1")
    assert result.fired == ["stage1"] and result.scores[0] == 0.5


def test_one_frame_and_bad_input():
    assert fuse_one({"stage1": 0.3, "appearance": 0.6}) == (0.6, "appearance")
    with pytest.raises(ValueError, match="nothing to fuse"):
        fuse({})
    with pytest.raises(ValueError, match="primary"):
        fuse({"a": np.zeros(1)}, primary="b")


def test_zero_shot_rule_is_the_same_fusion():
    assert zero_shot_fuse(0.4, 0.9, 1.0) == (0.9, "zero-shot")
    assert zero_shot_fuse(0.4, 0.9, 0.0) == (0.4, "stage1")
    score, fired = zero_shot_fuse(float("nan"), 0.9, 1.0)
    assert np.isnan(score) and fired == "stage1"
