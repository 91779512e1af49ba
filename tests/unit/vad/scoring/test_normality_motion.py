"""Flow over a gap of frames and the per-camera motion threshold, on real Ped2 frames."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vad.scoring.normality import NormalityConfig, NormalityModel, fit_normality_model
from vad.scoring.normality.features import flow_magnitude_quantile, internal_size, to_internal
from vad.scoring.normality.model import (
    FORMAT_VERSION,
    frame_pairs,
    learn_motion_threshold,
    perspective_thresholds,
)
from vad.video import iter_video_frames

SMALL = NormalityConfig(memory_per_cell=64, calibration_folds=2)


def _greys(path: Path, n: int, width: int = 360) -> list[np.ndarray]:
    size = internal_size(360, 240, NormalityConfig(internal_width=width))
    return [to_internal(f, size) for f in itertools.islice(iter_video_frames(path), n)]


def test_frame_pairs_look_back_by_the_gap_and_early_frames_borrow_the_first_pair() -> None:
    assert frame_pairs(5, 2) == [(0, 2), (0, 2), (0, 2), (1, 3), (2, 4)]
    assert frame_pairs(4, 1) == [(0, 1), (0, 1), (1, 2), (2, 3)]
    assert frame_pairs(2, 3) == [(0, 1), (0, 1)]  # shorter than the gap: the longest pair there is
    assert frame_pairs(1, 2) == [(0, 0)] and frame_pairs(0, 2) == []


def test_a_longer_gap_measures_walkers_with_proportionally_larger_flow(ped2: Path) -> None:
    greys = _greys(ped2 / "train" / "train_01.mp4", 12, width=192)
    engine = cv2.DISOpticalFlow_create(2)
    by_gap = {}
    for gap in (1, 2):
        flows = [engine.calc(greys[i - gap], greys[i], None) for i in range(4, 12)]
        by_gap[gap] = flow_magnitude_quantile(flows, 0.999)
    assert 1.5 < by_gap[2] / by_gap[1] < 2.5  # displacement doubles, the flow error does not


def test_learned_threshold_follows_resolution_and_gap(ped2: Path) -> None:
    clip = ped2 / "train" / "train_02.mp4"
    base = NormalityConfig(flow_gap=1, perspective_threshold=False)
    low = learn_motion_threshold([_greys(clip, 30, width=192)], base)
    high = learn_motion_threshold([_greys(clip, 30, width=288)], base)
    gap2 = learn_motion_threshold(
        [_greys(clip, 30, width=192)], NormalityConfig(flow_gap=2, perspective_threshold=False)
    )
    assert 0.2 < low < 1.0  # Ped2 walkers: a fraction of an internal pixel per frame
    assert high > 1.2 * low and gap2 > 1.5 * low


def test_threshold_of_still_footage_is_the_floor_not_zero(ped2: Path) -> None:
    frame = _greys(ped2 / "train" / "train_01.mp4", 1, width=192)[0]
    threshold = learn_motion_threshold([[frame] * 6], NormalityConfig(perspective_threshold=False))
    assert threshold == pytest.approx(0.05)
    per_row = learn_motion_threshold([[frame] * 6], NormalityConfig())
    assert per_row.shape == (frame.shape[0], 1) and np.allclose(per_row, 0.05)


def test_perspective_threshold_is_lower_where_everything_moves_fewer_pixels() -> None:
    flows = [np.zeros((64, 96, 2), np.float32) for _ in range(20)]
    for t, f in enumerate(flows):  # walkers in every row, 0.5 px/frame at the top, 2 at the bottom
        for r in range(8):
            f[8 * r : 8 * r + 8, (t * 4) % 88 : (t * 4) % 88 + 8, 0] = 0.5 + 1.5 * r / 7
    rows = perspective_thresholds(flows, 1.0, 0.999)
    assert rows.shape == (64, 1) and rows[10, 0] < 0.6 * rows[52, 0] and rows.max() <= 1.0


def test_a_view_without_perspective_keeps_the_learned_threshold_in_every_row() -> None:
    """A side view: walkers in the middle rows only, faster in the middle than at either edge
    of the walkway (layout, not distance): with the slope's shrinkage no row is lowered."""
    flows = [np.zeros((72, 96, 2), np.float32) for _ in range(20)]
    for t, f in enumerate(flows):
        for r, speed in enumerate([0.6, 0.9, 1.0, 0.8, 0.7, 0.75, 0.6]):
            f[8 + 8 * r : 16 + 8 * r, (t * 4) % 88 : (t * 4) % 88 + 8, 0] = speed
    assert perspective_thresholds(flows, 1.0, 0.999).min() < 0.9
    rows = perspective_thresholds(flows, 1.0, 0.999, shrink=True)
    np.testing.assert_allclose(rows, 1.0)


def test_model_keeps_its_threshold_and_refuses_an_older_format(ped2: Path, tmp_path: Path) -> None:
    clips = [list(itertools.islice(iter_video_frames(ped2 / "train" / "train_03.mp4"), 30))]
    model = fit_normality_model(clips, SMALL)
    per_row = model.motion_threshold  # one threshold per internal row (perspective_threshold)
    assert per_row.shape == (model.internal[1], 1) and per_row.max() > 0.05
    np.testing.assert_allclose(model.metadata["motion_threshold"], per_row.ravel(), atol=1e-6)
    assert model.context_frames == SMALL.flow_gap + 4
    model.save(tmp_path / "m")
    np.testing.assert_allclose(
        NormalityModel.load(tmp_path / "m").motion_threshold, per_row, atol=1e-6
    )
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    assert doc["config"]["perspective_shrinkage"] is SMALL.perspective_shrinkage
    del doc["config"]["perspective_shrinkage"]  # saved before the slope's shrinkage existed
    (tmp_path / "m" / "model.json").write_text(json.dumps(doc))
    assert NormalityModel.load(tmp_path / "m").config.perspective_shrinkage is False
    doc["format_version"] = FORMAT_VERSION - 1
    (tmp_path / "m" / "model.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="refit"):
        NormalityModel.load(tmp_path / "m")
