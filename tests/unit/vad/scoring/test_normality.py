"""Normality model on real Ped2 frames: features, calibration, smoothing, persistence, scorer."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from vad.scoring.normality import (
    NormalityConfig,
    NormalityModel,
    TailCalibrator,
    fit_normality_model,
    smooth_scores,
)
from vad.scoring.normality.features import FramePair, internal_size, make_family, to_internal
from vad.scoring.normality.scorer import NormalityScorer
from vad.types import Frame
from vad.video import iter_video_frames, video_info

SMALL = NormalityConfig(memory_per_cell=64, calibration_folds=2)


def _frames(path: Path, n: int) -> list[np.ndarray]:
    return list(itertools.islice(iter_video_frames(path), n))


@pytest.fixture(scope="module")
def train_clips(ped2: Path) -> list[list[np.ndarray]]:
    return [_frames(ped2 / "train" / f"train_0{i}.mp4", 40) for i in (1, 2)]


@pytest.fixture(scope="module")
def model(train_clips) -> NormalityModel:
    cv2.setNumThreads(1)
    return fit_normality_model(train_clips, SMALL)


def test_video_info_matches_decoded_frames(ped2: Path) -> None:
    info = video_info(ped2 / "train" / "train_01.mp4")
    assert (info.width, info.height, round(info.fps)) == (360, 240, 10)
    assert info.frame_count == 120


def test_internal_size_snaps_to_cells_and_never_upscales() -> None:
    cfg = NormalityConfig()
    assert internal_size(360, 240, cfg) == (192, 128)
    w, h = internal_size(1280, 720, cfg)
    assert w == 192 and h % cfg.cell_px == 0
    assert internal_size(64, 48, cfg)[0] == 64


def test_flow_features_are_zero_for_a_still_frame_and_positive_for_walking(train_clips) -> None:
    cfg = NormalityConfig()
    family = make_family("flow", cfg, 0.5)
    engine = cv2.DISOpticalFlow_create(cfg.flow_preset)
    a, b = (to_internal(f, internal_size(360, 240, cfg)) for f in train_clips[0][:2])
    still = family.extract(FramePair(a, a, engine))
    moving = family.extract(FramePair(a, b, engine))
    assert still.shape == moving.shape == (12 * 8, len(family.feature_names))
    assert np.abs(still).max() < 1e-3
    assert moving[:, -1].max() > 0.1  # pedestrians walk in every training clip


def test_shape_features_ignore_the_static_scene_and_describe_moving_outlines(train_clips) -> None:
    cfg = NormalityConfig()
    family = make_family("shape", cfg, 0.5)
    engine = cv2.DISOpticalFlow_create(cfg.flow_preset)
    a, b = (to_internal(f, internal_size(360, 240, cfg)) for f in train_clips[0][0:5:4])
    still = family.extract(FramePair(a, a, engine))
    moving = family.extract(FramePair(a, b, engine))
    cells = (2 * 12 - 1) * (2 * 8 - 1)  # overlapping cells start every half cell
    assert still.shape == moving.shape == (cells, len(family.feature_names)) == (345, 40)
    assert not still.any()  # static background edges are masked out entirely
    busy = moving.sum(axis=1) > 0
    assert 0 < busy.sum() < cells  # walkers cover some cells, most of the scene stays still
    assert (moving[busy, :32].sum(axis=1) > 0).all() and moving[:, 32:].max() > 0


def test_overlapping_shape_cells_contain_the_disjoint_cells(train_clips) -> None:
    """Every other overlapping cell in both directions is exactly one of the disjoint cells, so
    overlap only adds the cells centred on the disjoint cells' borders."""
    disjoint_cfg = NormalityConfig(overlapping_cells=False)
    engine = cv2.DISOpticalFlow_create(disjoint_cfg.flow_preset)
    a, b = (to_internal(f, internal_size(360, 240, disjoint_cfg)) for f in train_clips[0][0:5:4])
    pair = FramePair(a, b, engine)
    disjoint = make_family("shape", disjoint_cfg, 0.5).extract(pair)
    overlapping = make_family("shape", NormalityConfig(), 0.5).extract(pair)
    assert disjoint.shape == (96, 40) and disjoint.any()
    np.testing.assert_array_equal(
        overlapping.reshape(15, 23, 40)[::2, ::2].reshape(96, 40), disjoint
    )


def test_calibration_is_monotone_and_centred_on_the_reference_quantile() -> None:
    rng = np.random.default_rng(0)
    train = rng.gamma(2.0, 1.0, 5000)
    cal = TailCalibrator.fit(train, tail_quantile=0.9, reference_quantile=0.99)
    x = np.linspace(0, 50, 500)
    s = cal(x)
    assert np.all(np.diff(s) >= 0) and s.min() >= 0 and s.max() <= 1
    assert cal(np.array([np.quantile(train, 0.99)]))[0] == pytest.approx(0.5, abs=0.03)
    assert np.mean(cal(train) > 0.5) == pytest.approx(0.01, abs=0.005)
    assert np.isnan(cal(np.array([np.nan]))[0])
    again = TailCalibrator.from_dict(cal.to_dict())
    np.testing.assert_allclose(again(x), s)


def test_causal_smoothing_ignores_the_future_and_keeps_nan() -> None:
    x = np.array([0.0, 1, 0, 0, 5, 0, np.nan, 0, 0])
    y = smooth_scores(x, 2.0, causal=True)
    changed = x.copy()
    changed[5:] = 9.0
    np.testing.assert_allclose(smooth_scores(changed, 2.0, causal=True)[:5], y[:5])
    assert np.isnan(y[6]) and np.all(np.isfinite(np.delete(y, 6)))
    np.testing.assert_allclose(smooth_scores(np.full(7, 0.3), 2.0), 0.3)
    np.testing.assert_allclose(smooth_scores(x, 0.0), x, equal_nan=True)


def test_held_out_training_scores_are_mostly_low(model, train_clips) -> None:
    _, calibrated = model.score_frames(train_clips[0])
    assert calibrated.shape == (40,)
    assert np.all((calibrated >= 0) & (calibrated <= 1))
    assert np.median(calibrated) < 0.5


def test_window_with_context_equals_the_whole_video_pass(model, ped2: Path) -> None:
    frames = _frames(ped2 / "test" / "test_04.mp4", 30)
    raw_all, cal_all = model.score_frames(frames)
    k = model.context_frames
    raw_win, cal_win = model.score_frames(frames[20:], context=frames[20 - k : 20])
    np.testing.assert_allclose(raw_win, raw_all[20:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cal_win, cal_all[20:], rtol=1e-5, atol=1e-6)


def test_save_load_roundtrip_scores_identically(model, ped2: Path, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["memory.npz", "model.json"]
    loaded = NormalityModel.load(tmp_path / "m")
    assert loaded.metadata["frames_seen"] == 80
    frames = _frames(ped2 / "test" / "test_04.mp4", 12)
    np.testing.assert_allclose(loaded.score_frames(frames)[1], model.score_frames(frames)[1])


def test_other_resolutions_are_scored_on_the_same_grid(model, train_clips) -> None:
    hd = [cv2.resize(f, (1280, 720)) for f in train_clips[0][:5]]
    raw, calibrated = model.score_frames(hd)
    assert raw.shape == (5,) and np.all(np.isfinite(calibrated))


def test_scorer_gives_nan_to_undecodable_frames(model, train_clips) -> None:
    scorer = NormalityScorer(model)
    assert scorer.name == "normality" and scorer.context_frames == model.context_frames
    images = train_clips[1][:6]
    frames = [Frame("cam", i, float(i), None if i == 3 else img) for i, img in enumerate(images)]
    context = [Frame("cam", -1, -1.0, train_clips[1][6])]
    result = scorer.score(frames, context, state={"ignored": True})
    assert result.state is None
    assert np.isnan(result.scores[3]) and np.isnan(result.raw[3])
    assert np.all(np.isfinite(np.delete(result.scores, 3)))
