"""The motion baseline scorer: per-camera running statistics of frame-to-frame change."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.requirements import missing
from vad.scoring.motion import MotionScorer, ScoringConfig
from vad.types import Frame

PED2 = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "ucsd_ped2"
WARMUP = 20


def _scorer(**overrides) -> MotionScorer:
    return MotionScorer(ScoringConfig(**{"motion_warmup_frames": WARMUP, **overrides}))


def _frames(images, start: int = 0) -> list[Frame]:
    return [
        Frame(
            "cam",
            start + i,
            1000.0 + (start + i) / 10,
            image,
            offset=start + i,
            error=None if image is not None else "undecodable",
        )
        for i, image in enumerate(images)
    ]


def _still(n: int, seed: int = 0, level: int = 100, sigma: float = 2.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.full((96, 128, 3), level, np.float32)
    base[20:60, 30:90] = 180  # some structure
    return [
        np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8) for _ in range(n)
    ]


def test_first_frame_without_context_scores_zero() -> None:
    result = _scorer().score(_frames(_still(1)))
    assert result.scores.tolist() == [0.0] and result.raw.tolist() == [0.0]
    assert result.state == {"mean": 0.0, "var": 0.0, "count": 0}


def test_scores_are_zero_during_warm_up() -> None:
    result = _scorer().score(_frames(_still(WARMUP + 1)))
    assert np.all(result.scores == 0.0)
    assert result.state["count"] == WARMUP
    assert np.all(result.raw[1:] > 0)  # raw energy is still reported


def test_still_frames_score_near_zero_after_warm_up() -> None:
    result = _scorer().score(_frames(_still(200)))
    after = result.scores[WARMUP + 1 :]
    assert np.all(after < 0.15) and np.mean(after) < 0.08
    assert result.raw[1:].max() < 3.0  # noise only: a couple of grey levels at most


def test_a_sudden_big_change_scores_high() -> None:
    images = _still(60)
    images[50] = np.full_like(images[50], 20)  # lights off for a frame
    result = _scorer().score(_frames(images))
    assert result.scores[50] > 0.99
    assert result.scores[51] > 0.9  # and back on (the baseline has absorbed some of it)
    assert np.all(result.scores[WARMUP + 1 : 50] < 0.15)
    assert result.raw[50] > 20 * result.raw[1:50].mean()


def test_scores_are_probabilities_and_raw_is_non_negative() -> None:
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(80)]
    result = _scorer().score(_frames(images))
    assert np.all((result.scores >= 0) & (result.scores <= 1))
    assert np.all(result.raw >= 0)


def test_frames_without_an_image_score_nan_and_are_skipped() -> None:
    images: list[np.ndarray | None] = list(_still(40))
    images[25] = None
    images[30] = None
    images[31] = None
    result = _scorer().score(_frames(images))
    nan = np.isnan(result.scores)
    assert nan.tolist() == [i in (25, 30, 31) for i in range(40)]
    assert np.array_equal(np.isnan(result.raw), nan)
    assert not np.isnan(result.scores[~nan]).any()
    # The frame after a gap is compared with the last decodable one, not treated as a first frame.
    assert result.raw[32] > 0 and result.raw[26] > 0
    assert result.state["count"] == 40 - 1 - 3


def test_a_window_of_only_undecodable_frames() -> None:
    state = {"mean": 1.0, "var": 0.5, "count": 30}
    result = _scorer().score(_frames([None, None]), state=state)
    assert np.isnan(result.scores).all() and np.isnan(result.raw).all()
    assert result.state == state


def test_state_carries_across_calls_like_one_long_call() -> None:
    images = _still(90, seed=3)
    images[70] = np.full_like(images[70], 250)
    frames = _frames(images)
    scorer = _scorer()
    whole = scorer.score(frames)
    state: dict | None = None
    scores, raw = [], []
    bounds = [0, 7, 8, 30, 55, 71, 90]
    for a, b in zip(bounds, bounds[1:], strict=False):
        context = frames[max(a - scorer.context_frames, 0) : a]
        part = scorer.score(frames[a:b], context=context, state=state)
        state = json.loads(json.dumps(part.state))  # persisted between windows
        scores.append(part.scores)
        raw.append(part.raw)
    np.testing.assert_allclose(np.concatenate(scores), whole.scores, rtol=1e-12)
    np.testing.assert_allclose(np.concatenate(raw), whole.raw, rtol=1e-12)
    assert state == pytest.approx(whole.state)


def test_the_callers_state_is_not_modified() -> None:
    state = {"mean": 2.0, "var": 1.0, "count": 50}
    before = dict(state)
    result = _scorer().score(_frames(_still(10)), state=state)
    assert state == before and result.state is not state
    assert result.state["count"] == 50 + 9  # the first frame has no predecessor


def test_a_warmed_state_scores_the_first_window_frame_against_its_context() -> None:
    warm = _scorer().score(_frames(_still(60))).state
    still = _still(3, seed=9)
    dark = np.full_like(still[0], 10)
    scorer = _scorer()
    with_context = scorer.score(_frames([dark]), context=_frames(still), state=warm)
    assert with_context.scores[0] > 0.99
    # Without context the same frame has nothing to compare with.
    alone = scorer.score(_frames([dark]), state=warm)
    assert alone.scores[0] == 0.0 and alone.raw[0] == 0.0
    # Same picture as the context frame: no motion at all.
    same = scorer.score(_frames([still[-1]]), context=_frames(still), state=warm)
    assert same.raw[0] == 0.0 and same.scores[0] < 0.1


def test_context_uses_its_last_decodable_frame() -> None:
    still = _still(2)
    dark = np.full_like(still[0], 10)
    scorer = _scorer()
    context = _frames([dark, still[0], None, None])
    result = scorer.score(_frames([still[0]], start=4), context=context)
    assert result.raw[0] == 0.0  # compared with still[0], not with the dark frame
    result = scorer.score(_frames([still[0]], start=4), context=_frames([None]))
    assert result.raw[0] == 0.0 and result.scores[0] == 0.0


def test_configured_warm_up_and_centre_are_used() -> None:
    images = _still(30)
    assert np.all(_scorer(motion_warmup_frames=100).score(_frames(images)).scores == 0.0)
    low = _scorer(motion_z_center=-5.0).score(_frames(images)).scores[WARMUP + 1 :]
    assert np.all(low > 0.9)  # a centre far below the mean makes ordinary motion "anomalous"


def test_real_ped2_walking_is_ordinary_but_a_scene_cut_is_not() -> None:
    clip, other = PED2 / "train" / "train_01.mp4", PED2 / "test" / "test_04.mp4"
    if not (clip.exists() and other.exists()):
        missing(f"UCSD Ped2 footage not found under {PED2}")
    images = []
    for path, n in ((clip, 60), (other, 1)):
        cap = cv2.VideoCapture(str(path))
        for _ in range(n):
            ok, image = cap.read()
            assert ok, f"cannot read {path}"
            images.append(image)
        cap.release()
    walking_then_cut = images[:40] + [images[60]]
    result = _scorer().score(_frames(walking_then_cut))
    assert np.median(result.scores[WARMUP + 1 : 40]) < 0.3
    assert result.scores[40] > 0.9
