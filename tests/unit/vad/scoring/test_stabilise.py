"""The stabiliser on synthetic images: a textured scene moved by a known translation is moved
back; a steady scene, with or without a walker, is returned untouched (the same array), so a
steady camera scores bit for bit as without it; and both motion models see a shaken scene as
nearly still once it is on, a sub-pixel shake too (the flow's drift is removed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vad.scoring.normality.config import NormalityConfig
from vad.scoring.normality.model import fit_normality_model
from vad.scoring.normality.scorer import NormalityScorer
from vad.scoring.stabilise import (
    _SURELY_SHORT,
    MAX_RESIDUAL,
    MIN_DRIFT,
    align_previous,
    estimate_shift,
    median_at_least,
    median_difference,
    median_versus,
    moved_alike,
    surely_refused,
    surely_short_median,
    without_drift,
)
from vad.scoring.velocity import VelocityConfig, cell_speeds, fit_velocity_model
from vad.types import Frame

H, W = 120, 160


def scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=(H // 4, W // 4), dtype=np.uint8)
    return cv2.GaussianBlur(np.kron(base, np.ones((4, 4), np.uint8)), (0, 0), 0.8)


def moved(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, shift, (W, H), borderMode=cv2.BORDER_REPLICATE)


def with_walker(image: np.ndarray, x: int) -> np.ndarray:
    out = image.copy()
    out[50:74, x : x + 12] = 230
    return out


@pytest.mark.parametrize("dx,dy", [(3, 0), (0, -2), (-4, 3), (2, 2)])
def test_recovers_a_whole_pixel_shift(dx, dy):
    previous = scene()
    current = moved(previous, dx, dy)
    whole_x, whole_y, response = estimate_shift(previous, current)
    assert (whole_x, whole_y) == (dx, dy)
    assert response > 0.3
    aligned = align_previous(previous, current)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(aligned[inner].astype(int) - current[inner]).max() <= 2


def test_a_sub_pixel_shift_is_taken_to_the_nearest_whole_pixel():
    previous = scene(1)
    current = moved(previous, 2.4, -1.6)
    assert estimate_shift(previous, current)[:2] == (2, -2)


def test_a_steady_view_is_left_alone_even_with_a_walker():
    background = scene(2)
    for previous, current in [
        (background, background.copy()),
        (with_walker(background, 40), with_walker(background, 44)),
        (with_walker(background, 40), with_walker(background, 52)),
    ]:
        assert align_previous(previous, current) is previous


def test_a_walker_on_a_shaken_view_keeps_its_own_motion():
    background = scene(3)
    previous = with_walker(background, 40)
    current = moved(with_walker(background, 46), 3, -2)
    aligned = align_previous(previous, current)
    still = np.ones((H, W), bool)
    still[40:84, 30:70] = False
    still[:8], still[-8:], still[:, :8], still[:, -8:] = False, False, False, False
    assert np.abs(aligned[still].astype(int) - current[still]).mean() < 2


def test_velocity_sees_a_shaken_still_scene_as_still():
    rng = np.random.default_rng(4)
    base = scene(4)
    greys = [moved(base, *rng.integers(-3, 4, 2)) for _ in range(8)]
    cell = VelocityConfig().cell_px
    shaken_speed = cell_speeds(greys, cell)[1:].mean()
    stabilised_speed = cell_speeds(greys, cell, stabilise=True)[1:].mean()
    assert shaken_speed > 0.5
    assert stabilised_speed < 0.2 * shaken_speed


def test_steady_footage_scores_bit_identically():
    """Walkers on a steady view: the pixel model fitted and scored with the stabiliser on equals
    the one with it off, to the last bit."""

    def clip(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        starts = rng.integers(0, W - 12, 2)
        background = scene(5)
        frames = []
        for t in range(24):
            frame = with_walker(background, int((starts[0] + 2 * t) % (W - 12)))
            frame[10:34, int((starts[1] + 3 * t) % (W - 12)) :][:, :12] = 20
            frames.append(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        return frames

    train = [clip(s) for s in range(4)]
    test = clip(9)
    off = fit_normality_model(train, NormalityConfig(stabilise=False, calibration_folds=2))
    on = fit_normality_model(train, NormalityConfig(stabilise=True, calibration_folds=2))
    for a, b in zip(off.score_frames(test), on.score_frames(test), strict=True):
        assert np.array_equal(a, b)


def test_a_shaken_window_with_its_context_scores_as_the_whole_clip():
    """The worker scores a window with the context frames it reads before it; the stabiliser
    aligns within each flow pair only, so that equals `vad eval`'s whole-clip pass."""

    def shaken_clip(seed: int, frames: int = 30) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        background = scene(6)
        out = []
        for t in range(frames):
            frame = moved(with_walker(background, (20 + 3 * t) % (W - 12)), *rng.integers(-3, 4, 2))
            out.append(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        return out

    train = [shaken_clip(s) for s in range(4)]
    scorer = NormalityScorer(
        fit_normality_model(train, NormalityConfig(calibration_folds=2)),
        fit_velocity_model(train, VelocityConfig(calibration_folds=2)),
    )
    frames = [Frame(1, i, float(i), image) for i, image in enumerate(shaken_clip(9))]
    whole = scorer.score(frames)
    k = scorer.context_frames
    window = scorer.score(frames[20:], frames[20 - k : 20])
    np.testing.assert_allclose(window.scores, whole.scores[20:], rtol=1e-6, atol=1e-9)
    for term, values in window.notes["terms"].items():
        np.testing.assert_allclose(values, whole.notes["terms"][term][20:], rtol=1e-6, atol=1e-9)


def test_a_model_saved_before_stabilisation_scores_without_it(tmp_path):
    """Models store the config they were fitted with; one written before the field existed was
    fitted without stabilising, so it loads with it off (and a new one keeps it on)."""
    import json

    from vad.scoring.velocity import VELOCITY_JSON, VelocityModel

    base = scene(7)
    clip = [cv2.cvtColor(with_walker(base, 10 + 4 * t), cv2.COLOR_GRAY2BGR) for t in range(16)]
    model = fit_velocity_model([clip, clip[::-1]], VelocityConfig(calibration_folds=2))
    model.save(tmp_path)
    assert VelocityModel.load(tmp_path).config.stabilise
    doc = json.loads((tmp_path / VELOCITY_JSON).read_text())
    del doc["config"]["stabilise"]
    (tmp_path / VELOCITY_JSON).write_text(json.dumps(doc))
    assert not VelocityModel.load(tmp_path).config.stabilise


def test_a_proposal_a_pixel_off_is_moved_to_the_true_shift():
    """Walkers pull the correlation peak by a pixel; the gate's neighbourhood search puts it
    back, and refuses a proposal that does not explain the pair (a steady one)."""
    from vad.scoring.stabilise import _verified_shift

    previous = scene(8)
    current = moved(previous, 3, -2)
    assert _verified_shift(previous, current, 2, -2) == (3, -2)
    assert _verified_shift(previous, current, 3, -1) == (3, -2)
    assert _verified_shift(previous, previous.copy(), 1, 0) is None


def test_a_steady_flow_keeps_its_walker_and_is_the_same_array():
    """A walker's flow on a still background: the median is the background's (zero), so the flow
    is returned untouched, the very array (a steady camera is bit for bit as without it)."""
    flow = np.zeros((H, W, 2), np.float32)
    flow[50:74, 40:52] = (3.0, 0.0)
    flow += np.random.default_rng(10).normal(0, 0.05, flow.shape).astype(np.float32)
    assert without_drift(flow) is flow


def test_a_drifting_view_loses_its_drift_but_not_the_walkers_own_motion():
    flow = np.full((H, W, 2), (0.45, -0.3), np.float32)
    flow[50:74, 40:52] += (3.0, 0.0)
    steadied = without_drift(flow)
    assert np.hypot(0.45, -0.3) >= MIN_DRIFT
    np.testing.assert_allclose(steadied[:40], 0.0, atol=1e-6)
    np.testing.assert_allclose(steadied[50:74, 40:52] - (3.0, 0.0), 0.0, atol=1e-5)


def test_velocity_sees_a_sub_pixel_shaken_still_scene_as_still():
    """Half-pixel moves: no whole-pixel shift explains them, so only the drift removal helps."""
    base = scene(11)
    greys = [moved(base, dx, dy) for dx, dy in [(0, 0), (0.5, 0), (0.5, -0.5), (0, -0.5)] * 2]
    cell = VelocityConfig().cell_px
    shaken_speed = cell_speeds(greys, cell)[1:].mean()
    stabilised_speed = cell_speeds(greys, cell, stabilise=True)[1:].mean()
    assert shaken_speed > 0.3
    assert stabilised_speed < 0.25 * shaken_speed


@pytest.mark.parametrize("dx,dy", [(3, 0), (-2, 1), (0, -4), (2, 2)])
def test_the_strip_a_shift_uncovers_comes_from_the_current_frame(dx, dy):
    """The earlier frame never saw the uncovered strip: it is the current frame's there (no
    evidence of motion), the earlier frame moved by (dx, dy) everywhere else."""
    from vad.scoring.stabilise import shifted_onto

    previous, current = scene(12), scene(13)
    out = shifted_onto(previous, current, dx, dy)
    seen = np.zeros((H, W), bool)
    seen[max(0, dy) : H + min(0, dy), max(0, dx) : W + min(0, dx)] = True
    ys, xs = np.nonzero(seen)
    assert np.array_equal(out[ys, xs], previous[ys - dy, xs - dx])
    assert np.array_equal(out[~seen], current[~seen])


def test_a_drift_in_part_of_the_view_only_is_motion_and_kept():
    """The gate: a thing filling 60 % of the view owns the median flow, but the quadrants it does
    not cover stay still, so its motion is not taken for the camera's (the same array)."""
    flow = np.zeros((H, W, 2), np.float32)
    flow[:, : int(0.6 * W)] = (0.5, 0.0)
    assert np.hypot(*np.median(flow.reshape(-1, 2), axis=0)) >= MIN_DRIFT
    assert without_drift(flow) is flow


def textured_object_clip(frames: int = 8) -> list[np.ndarray]:
    """A steady view with a textured object covering its left 60 % moving right by half a pixel a
    frame (a bus filling a close camera's view)."""
    background, texture = scene(14), cv2.resize(scene(15), (W + 8, H))
    width = int(0.6 * W)
    out = []
    for t in range(frames):
        frame = background.copy()
        shift = np.float32([[1, 0, 0.5 * t - 4], [0, 1, 0]])
        frame[:, :width] = cv2.warpAffine(texture, shift, (W + 8, H))[:, :width]
        out.append(frame)
    return out


def test_a_steady_clip_with_a_large_moving_object_keeps_its_motion():
    """Both motion models' flow sites on a steady camera: the object's motion is the same with
    the stabiliser on as off, bit for bit, and is seen."""
    greys = textured_object_clip()
    cell = VelocityConfig().cell_px
    on, off = cell_speeds(greys, cell, stabilise=True), cell_speeds(greys, cell)
    assert np.array_equal(on, off)
    assert off[1:, :, : int(0.5 * W) // cell].mean() > 0.3
    engine = cv2.DISOpticalFlow_create(2)
    for previous, current in zip(greys[:-2], greys[2:], strict=True):
        flow = engine.calc(previous, current, None)
        assert without_drift(flow) is flow


def test_the_short_median_bound_stays_under_the_drift_floor():
    """Both components' medians within the bound make a drift under `MIN_DRIFT`, float32
    rounding included."""
    bound = np.float32(_SURELY_SHORT)
    assert float(np.hypot(bound, bound)) < MIN_DRIFT


@pytest.mark.parametrize("n", [9, 10])
def test_more_than_half_within_the_bound_is_a_short_median_and_half_is_not(n):
    """Right at the bound, for an odd and an even count: n // 2 + 1 values just inside it and
    the rest far out is surely short, and the median is; n // 2 inside is not (the median may be
    anything: here it is far out); a value exactly at the bound counts as outside."""
    inside = np.nextafter(np.float32(_SURELY_SHORT), np.float32(0))
    flow = np.full((1, n, 2), 5.0, np.float32)
    flow[0, : n // 2 + 1] = inside
    flow[0, 0] = -inside  # either sign counts
    assert surely_short_median(flow)
    assert np.hypot(*np.median(flow.reshape(-1, 2), axis=0)) < MIN_DRIFT
    flow[0, n // 2] = 5.0
    assert not surely_short_median(flow)
    assert np.hypot(*np.median(flow.reshape(-1, 2), axis=0)) >= MIN_DRIFT
    flow[0, n // 2] = np.float32(_SURELY_SHORT)
    assert not surely_short_median(flow)
    flow[0, n // 2, 1] = 5.0  # one component short, the other not: the median decides
    flow[0, n // 2, 0] = inside
    assert not surely_short_median(flow)


def without_drift_by_median(flow: np.ndarray) -> np.ndarray:
    """`without_drift` as it was before the shortcut: the median always computed."""
    drift = np.median(flow.reshape(-1, 2), axis=0)
    if float(np.hypot(drift[0], drift[1])) < MIN_DRIFT or not moved_alike(flow, drift):
        return flow
    return flow - drift.astype(flow.dtype)


@pytest.mark.parametrize("seed", range(40))
def test_the_shortcut_never_changes_the_flow_it_returns(seed):
    """Random flows around the bound (a still background's noise, a shaken view's drift near the
    floor, walkers covering up to half the view): `without_drift` returns exactly what the
    median alone returns, the same array when that is the flow itself."""
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(2, 40)), int(rng.integers(2, 40))
    drift = rng.uniform(-0.2, 0.2, 2)
    flow = (drift + rng.normal(0, rng.uniform(0.01, 0.1), (h, w, 2))).astype(np.float32)
    walkers = rng.random((h, w)) < rng.uniform(0, 0.5)
    flow[walkers] += rng.uniform(-3, 3, (int(walkers.sum()), 2)).astype(np.float32)
    expected, got = without_drift_by_median(flow), without_drift(flow)
    assert (got is flow) == (expected is flow)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("gap,keep", [(1, 8), (2, 6), (3, 2)])
def test_a_sequence_aligner_aligns_bit_for_bit_as_align_previous(gap, keep):
    """Each frame's spectrum computed once (and dropped past `keep`) gives exactly the frames
    `align_previous` gives pair by pair, on a shaken clip with a walker and on a steady one."""
    from vad.scoring.normality.model import frame_pairs
    from vad.scoring.stabilise import SequenceAligner

    base = scene(16)
    shaken = [
        with_walker(moved(base, dx, dy), 20 + 6 * i)
        for i, (dx, dy) in enumerate(
            [(0, 0), (2, 0), (2, -1), (-1, 1), (0, 3), (1, 1), (-2, 0), (0, 0)]
        )
    ]
    steady = [with_walker(base, 20 + 6 * i) for i in range(8)]
    for greys in (shaken, steady):
        aligner = SequenceAligner(greys, keep=keep)
        for a, b in frame_pairs(len(greys), gap):
            assert np.array_equal(aligner.align(a, b), align_previous(greys[a], greys[b]))


@pytest.mark.parametrize("n", [1, 2, 9, 10])
def test_median_at_least_at_the_bound_of_each_outcome(n):
    """Right at each rule of the count, for an odd and an even count: (n - 1) // 2 values under
    the bound is True, n // 2 + 1 under it is False, and an even count with half under it is the
    median's (either way); a value equal to the bound is not under it."""
    bound = 3.0
    for under in range(n + 1):
        values = np.full(n, 5.0, np.float32)
        values[:under] = np.nextafter(np.float32(bound), np.float32(0))
        if under < n:
            values[under] = bound  # at the bound: counts as not under
        assert median_at_least(values, bound) == (float(np.median(values)) >= bound)


@pytest.mark.parametrize("seed", range(60))
def test_median_at_least_is_the_median_compared(seed):
    """Random float32 differences (ties, blurred-image-like values, odd and even sizes) against
    bounds at, between and beside their middle values, some not representable in float32 (the
    count compares in float64, as the median's float is)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    values = np.abs(rng.normal(0, rng.uniform(0.5, 20), n)).astype(np.float32)
    if seed % 3 == 0:
        values = np.round(values).astype(np.float32)  # many ties
    middle = np.sort(values)[[(n - 1) // 2, n // 2]].astype(np.float64)
    for bound in (
        *middle,
        middle.mean(),
        np.nextafter(middle[0], 0),
        middle[1] + 1e-9,
        0.8 * middle[0],
    ):
        assert median_at_least(values.reshape(1, -1), float(bound)) == (
            float(np.median(values)) >= float(bound)
        )


def verified_shift_by_median(previous, current, dx, dy):
    """`_verified_shift` as it was before the count: the shifted median always computed."""
    from vad.scoring.stabilise import _BLUR_SIGMA, MAX_RESIDUAL

    a, b = (
        cv2.GaussianBlur(g.astype(np.float32), (0, 0), _BLUR_SIGMA) for g in (previous, current)
    )
    if median_difference(a, b, dx, dy) >= MAX_RESIDUAL * median_difference(a, b, 0, 0):
        return None
    near = [(dx + u, dy + v) for v in (-1, 0, 1) for u in (-1, 0, 1)]
    return min(near, key=lambda shift: median_difference(a, b, *shift))


def test_a_proposal_is_verified_as_by_the_median():
    """`_verified_shift` refuses and accepts exactly the proposals the median did, on a steady
    view with a walker (refused) and a shaken one (accepted, moved to the best neighbour), for
    proposals near and far (one leaving too little of the view)."""
    from vad.scoring.stabilise import _verified_shift

    base = scene(3)
    pairs = [
        (with_walker(base, 30), with_walker(base, 42)),
        (with_walker(moved(base, 2, -1), 30), with_walker(base, 36)),
    ]
    for previous, current in pairs:
        for dx, dy in [(1, 0), (0, -1), (2, 1), (-2, 1), (3, -1), (W // 2, 0)]:
            expected = verified_shift_by_median(previous, current, dx, dy)
            assert _verified_shift(previous, current, dx, dy) == expected
    assert verified_shift_by_median(*pairs[0], 1, 0) is None
    assert verified_shift_by_median(*pairs[1], -2, 1) == (-2, 1)


def test_median_versus_leaves_only_an_even_split_undecided():
    """An even count with exactly half the values under the bound is the median's to decide."""
    values = np.array([1.0, 2.0, 4.0, 5.0], np.float32)
    assert median_versus(values, 3.0) is None  # the median is 3.0: at least 3, by the median
    assert median_versus(values, 2.0) is True and median_versus(values, 4.5) is False


@pytest.mark.parametrize("seed", range(60))
def test_a_sure_refusal_is_what_the_medians_refuse(seed):
    """Random still and shifted differences (the shifted ones from 0.5x to 3x the still ones,
    odd and even sizes, ties): whenever `surely_refused` says so, the medians refuse too; and it
    does say so on the clear cases (shifted at least twice the still median, as on steady
    Ped2 pairs)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    still = np.abs(rng.normal(0, rng.uniform(0.5, 5), n)).astype(np.float32)
    ratio = rng.uniform(0.5, 3.0)
    moved = np.abs(rng.normal(0, 1, n + int(rng.integers(-5, 5)))).astype(np.float32)
    moved *= np.float32(ratio * np.median(still) / max(np.median(moved), 1e-6))
    if seed % 4 == 0:
        still, moved = np.round(still), np.round(moved)
    refused = float(np.median(moved)) >= MAX_RESIDUAL * float(np.median(still))
    if surely_refused(still, moved):
        assert refused
    if ratio >= 2 and seed % 4:
        assert surely_refused(still, moved)


@pytest.mark.parametrize("width", [240, 320])
def test_velocity_sees_a_shaken_still_scene_as_still_at_a_finer_width(width):
    """The phase correlation's DFT sizes and the drift gate hold at the velocity resolution
    round's widths (Ped2 at 320 px: 213 rows, a 200-row DFT)."""
    from vad.scoring.stabilise import _fast_size, spectrum
    from vad.scoring.velocity import to_grey

    rng = np.random.default_rng(4)
    base = scene(4)
    greys = [to_grey(moved(base, *rng.integers(-3, 4, 2)), width) for _ in range(8)]
    assert spectrum(greys[0]).shape[:2] == (_fast_size(greys[0].shape[0]), width)
    shaken_speed = cell_speeds(greys, 16)[1:].mean()
    stabilised_speed = cell_speeds(greys, 16, stabilise=True)[1:].mean()
    assert shaken_speed > 0.5
    assert stabilised_speed < 0.2 * shaken_speed
