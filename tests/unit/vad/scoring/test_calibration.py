"""The calibrated scale at the top: ordered beyond the training maximum, tempered by few frames."""

from __future__ import annotations

import numpy as np
import pytest

from vad.scoring.normality.calibration import TailCalibrator


def _fit(n: int, seed: int = 0) -> tuple[np.ndarray, TailCalibrator]:
    train = np.random.default_rng(seed).gamma(2.0, 1.0, n)
    return train, TailCalibrator.fit(train, tail_quantile=0.9, reference_quantile=0.99)


def test_scores_stay_strictly_ordered_far_beyond_the_training_maximum() -> None:
    train, cal = _fit(300)
    far = train.max() + np.geomspace(1.0, 1e6, 200)
    s = cal(far)
    assert np.all(np.diff(s) > 0), "saturated: the top no longer orders frames"
    assert s.max() < 1.0
    # visible at the precision incidents are shown with: 10x and 1000x the training max differ
    ten, thousand = cal(np.array([10 * train.max(), 1000 * train.max()]))
    assert thousand - ten > 0.02


def test_few_training_frames_temper_the_tail_and_many_keep_it() -> None:
    train_few, few = _fit(200)
    train_many, many = _fit(20_000)
    beyond = 3 * train_few.max()
    assert few(np.array([beyond]))[0] < many(np.array([beyond]))[0]
    # with many frames the predictive tail is the exponential one over the training range
    exponential = TailCalibrator.from_dict({**many.to_dict(), "exceedances": None})
    top = np.quantile(train_many, [0.95, 0.99, 0.999])
    np.testing.assert_allclose(many(top), exponential(top), atol=0.01)


def test_reference_quantile_still_maps_to_one_half_and_nan_stays_nan() -> None:
    train, cal = _fit(5000)
    assert cal(np.array([np.quantile(train, 0.99)]))[0] == pytest.approx(0.5, abs=0.03)
    assert np.mean(cal(train) > 0.5) == pytest.approx(0.01, abs=0.005)
    assert np.isnan(cal(np.array([np.nan]))[0])


def test_round_trip_and_models_saved_before_the_predictive_tail() -> None:
    _, cal = _fit(500)
    x = np.linspace(0, 1000, 300)
    np.testing.assert_allclose(TailCalibrator.from_dict(cal.to_dict())(x), cal(x))
    old = {k: v for k, v in cal.to_dict().items() if k != "exceedances"}
    legacy = TailCalibrator.from_dict(old)
    assert np.isinf(legacy.exceedances)
    assert np.all(np.diff(legacy(x)[x > legacy.threshold]) > 0), "old models unsaturated too"


def test_raw_at_inverts_the_surprise_in_the_body_and_the_tail() -> None:
    train, cal = _fit(5000)
    raw = np.concatenate([np.quantile(train, [0.3, 0.6, 0.85]), train.max() * np.array([1, 3])])
    np.testing.assert_allclose(cal.raw_at(cal.surprise(raw)), raw, rtol=1e-6)
    exponential = TailCalibrator.from_dict({**cal.to_dict(), "exceedances": None})
    far = train.max() * np.array([1.5, 4.0])
    np.testing.assert_allclose(exponential.raw_at(exponential.surprise(far)), far, rtol=1e-9)
