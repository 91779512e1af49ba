"""The stage-2 fusion weight from a model's ratings of normal footage (vad/stage2/weight.py)."""

from __future__ import annotations

import numpy as np

from vad.stage2.calibration import spread_windows
from vad.stage2.weight import (
    MIN_WINDOWS,
    NOT_CALIBRATED,
    fit_weight,
    follow_peak,
    fuse,
    read_ratings,
    save_ratings,
    weight_for,
)

SPREAD_LOW = [0.0, 0.0, 0.1, 0.0, 0.2, 0.1, 0.0, 0.1, 0.3, 0.0]


def test_a_model_that_rates_everything_the_same_is_for_explanations_only():
    weight = fit_weight("smollm2-135m", [0.1] * 30, 0.5)
    assert weight.weight == 0 and weight.explanations_only
    assert "rates normal windows like anomalous ones" in weight.reason
    assert weight.describe().startswith("smollm2-135m: explanations only (weight 0;")
    assert "the rating is skipped" in weight.describe()


def test_smollm2_on_ped2_training_windows_is_for_explanations_only():
    """SmolLM2-135M's ratings of 24 Ped2 training windows (`vad eval stage2`, 2026-12-06): 0.1
    but for two odd answers; one outlier is not a spread."""
    ratings = [0.1] * 13 + [0.9] + [0.1] * 8 + [0.3, 0.1]
    weight = fit_weight("llama.cpp:SmolLM2-135M-Instruct.Q4_1", ratings, 0.5)
    assert weight.explanations_only and "like anomalous ones" in weight.reason


def test_low_spread_normal_ratings_earn_the_configured_weight():
    weight = fit_weight("m", SPREAD_LOW, 0.5)
    assert weight.weight == 0.5 and not weight.explanations_only
    assert weight.normal_p95 == np.percentile(SPREAD_LOW, 95)


def test_high_normal_ratings_leave_no_room_above_them():
    weight = fit_weight("m", [0.8, 0.9, 1.0, 0.7] * 3, 0.5)
    assert weight.weight == 0 and "high" in weight.reason


def test_too_few_parsed_ratings_or_none_give_weight_0():
    few = fit_weight("m", [0.1, 0.5, None] + [None] * 10, 0.5)
    assert few.weight == 0 and f"needs {MIN_WINDOWS}" in few.reason
    assert fit_weight("m", [], 0.5).reason == NOT_CALIBRATED
    assert fit_weight("m", SPREAD_LOW, 0.0).weight == 0


def test_fusion_only_raises_above_the_normal_p95_and_weight_0_is_stage_1():
    weight = fit_weight("m", SPREAD_LOW, 0.5)
    p95 = weight.normal_p95
    assert fuse(0.4, p95, weight) == 0.4
    assert fuse(0.4, 0.0, weight) == 0.4  # a low rating never lowers stage 1
    assert fuse(0.4, None, weight) == 0.4
    assert fuse(0.4, 1.0, weight) == 0.4 + 0.5 * (1.0 - p95)
    zero = fit_weight("m", [0.1] * 30, 0.5)
    assert fuse(0.4, 1.0, zero) == 0.4


def test_ratings_stored_per_model_beside_the_camera_model(tmp_path):
    save_ratings(tmp_path, "a", SPREAD_LOW)
    save_ratings(tmp_path, "b", [0.1] * 10 + [None])
    assert read_ratings(tmp_path)["a"] == SPREAD_LOW
    assert read_ratings(tmp_path)["b"][-1] is None
    assert weight_for(tmp_path, "a", 0.5).weight == 0.5
    assert weight_for(tmp_path, "b", 0.5).weight == 0
    assert weight_for(tmp_path, "c", 0.5).reason == NOT_CALIBRATED
    assert weight_for(None, "a", 0.5).reason == NOT_CALIBRATED
    (tmp_path / "stage2_calibration.json").write_text("{not json")
    assert read_ratings(tmp_path) == {}


def test_calibration_windows_are_whole_and_spread_over_the_clips():
    assert spread_windows([25, 10], 10, 99) == [(0, 0), (0, 10), (1, 0)]
    picked = spread_windows([200, 200], 10, 4)
    assert len(picked) == 4 and picked[0] == (0, 0) and picked[-1] == (1, 190)


def test_the_fused_score_follows_a_rising_stage1_peak():
    """Stage 2's raise is the same whatever the peak (`fuse`), so when stage 1's peak rises
    after the analysis the fused score rises with it instead of going stale below it."""
    weight = fit_weight("m", SPREAD_LOW, 0.5)
    fused = fuse(0.7, 0.9, weight)
    assert follow_peak(fused, 0.7, 0.95) == np.float64(fuse(0.95, 0.9, weight))
    assert follow_peak(0.7, 0.7, 0.95) == 0.95  # weight 0: the stage-1 peak
    assert follow_peak(None, 0.7, 0.95) is None  # not analysed: stays NULL
    assert follow_peak(0.6, 0.7, 0.95) == 0.95  # already stale: healed, never below the peak
