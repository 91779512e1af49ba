"""The velocity model on synthetic footage: textured blocks walk across a textured scene, near
the camera (bottom) faster and bigger than far away (top), as under perspective. A block moving
several times faster than its row's walkers must stand out; normal footage must rarely score
above 0.5; a far walker must not look unusual just because it is small and slow."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vad.scoring.velocity import (
    VELOCITY_JSON,
    VelocityConfig,
    VelocityModel,
    fit_velocity_model,
    normal_speeds,
    perspective_slope,
    row_prior,
)

H, W = 120, 160


def scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 120, size=(H // 4, W // 4), dtype=np.uint8)
    return np.kron(base, np.ones((4, 4), np.uint8))


def walker_patch(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(150, 255, size=(size * 2, size), dtype=np.uint8)


def clip(seed: int, frames: int = 60, fast_row: int | None = None) -> list[np.ndarray]:
    """Walkers in three rows; the row's speed and size grow with the row (perspective).
    `fast_row`: that row's walker moves 4x its row's usual speed."""
    background = scene()
    rng = np.random.default_rng(seed)
    rows = [(20, 4, 0.5), (55, 8, 1.0), (90, 12, 1.5)]  # (top y, size px, speed px/frame)
    starts = rng.uniform(0, W, size=len(rows))
    out = []
    for t in range(frames):
        frame = background.copy()
        for r, (y, size, speed) in enumerate(rows):
            v = speed * (4 if fast_row == r else 1)
            x = int((starts[r] + v * t) % (W - size))
            frame[y : y + 2 * size, x : x + size] = walker_patch(size, r)
        out.append(np.repeat(frame[..., None], 3, axis=2))
    return out


@pytest.fixture(scope="module")
def model() -> VelocityModel:
    return fit_velocity_model([clip(seed) for seed in range(6)])


def test_normal_speed_grows_towards_the_camera(model):
    rows = model.normal.max(axis=1)
    assert rows[11] > rows[3]  # internal px 88-96 (near walkers) vs 24-32 (far walkers)


def test_fast_walker_stands_out_and_normal_footage_stays_low(model):
    _, normal = model.score_frames(clip(100))
    _, fast_far = model.score_frames(clip(101, fast_row=0))
    _, fast_near = model.score_frames(clip(102, fast_row=2))
    assert np.mean(normal[5:] > 0.5) < 0.1
    assert np.median(fast_near[5:]) > np.quantile(normal[5:], 0.95)
    assert np.median(fast_far[5:]) > np.median(normal[5:])


def test_save_load_scores_identically(model, tmp_path):
    model.save(tmp_path)
    assert (tmp_path / VELOCITY_JSON).exists()
    again = VelocityModel.load(tmp_path)
    frames = clip(7, frames=20)
    np.testing.assert_allclose(again.score_frames(frames)[1], model.score_frames(frames)[1])


def test_window_with_context_matches_a_whole_pass(model):
    frames = clip(8, frames=40)
    whole = model.score_frames(frames)[1]
    k = model.context_frames
    part = model.score_frames(frames[20:], context=frames[20 - k : 20])[1]
    np.testing.assert_allclose(part, whole[20:], atol=1e-9)


@pytest.mark.parametrize("width,cell", [(240, 12), (240, 8), (320, 16), (320, 8)])
def test_a_finer_flow_fits_scores_and_reloads_at_its_own_width(width, cell, tmp_path):
    """The velocity resolution round's variants: the cells tile the wider grey frame, a window
    with its context scores as the whole pass, and a saved model reloads at the width and cell it
    was fitted with (whatever today's default), scoring identically."""
    config = VelocityConfig(width=width, cell_px=cell, calibration_folds=2)
    fitted = fit_velocity_model([clip(seed, frames=24) for seed in range(3)], config)
    assert fitted.normal.shape == (round(H * width / W) // cell, width // cell)
    frames = clip(9, frames=20)
    scores = fitted.score_frames(frames)[1]
    assert np.isfinite(scores).all()
    k = fitted.context_frames
    part = fitted.score_frames(frames[10:], context=frames[10 - k : 10])[1]
    np.testing.assert_allclose(part, scores[10:], atol=1e-9)
    fitted.save(tmp_path)
    again = VelocityModel.load(tmp_path)
    assert (again.config.width, again.config.cell_px) == (width, cell)
    np.testing.assert_array_equal(again.score_frames(frames)[1], scores)


def test_a_fast_walker_stands_out_at_a_finer_width_too():
    config = VelocityConfig(width=320, cell_px=16)
    finer = fit_velocity_model([clip(seed) for seed in range(6)], config)
    _, normal = finer.score_frames(clip(100))
    _, fast_near = finer.score_frames(clip(102, fast_row=2))
    assert np.mean(normal[5:] > 0.5) < 0.1
    assert np.median(fast_near[5:]) > np.quantile(normal[5:], 0.95)


def test_still_footage_is_refused_with_a_reason():
    still = [np.full((H, W, 3), 90, np.uint8)] * 10
    with pytest.raises(ValueError, match="nothing moves"):
        fit_velocity_model([still, still])


def test_rows_nobody_crosses_get_the_perspective_prior_not_noise():
    speeds = np.zeros((50, 6, 4), np.float32)
    speeds[:, 3:, :] = np.linspace(0.5, 1.0, 3)[None, :, None]  # only the lower rows move
    normal = normal_speeds(speeds, 0.99)
    assert np.isfinite(normal).all() and normal[0].min() >= 0.2 * normal.max() - 1e-6


def test_a_clear_perspective_keeps_its_slope():
    rows = np.arange(10.0)
    noise = np.random.default_rng(0).normal(0, 0.02, 10)
    slope, intercept = perspective_slope(rows, 0.5 + 0.2 * rows + noise)
    assert slope == pytest.approx(0.2, rel=0.03) and intercept == pytest.approx(0.5, abs=0.05)


def test_rows_that_rise_and_fall_with_the_scene_get_a_flat_prior():
    """A side view (Ped2): the walkway's rows are busy, the speeds rise and fall with the layout,
    not with the distance; the slope is noise against its scatter and is dropped."""
    rows = np.arange(9.0)
    values = np.array([0.4, 0.6, 0.8, 0.9, 1.0, 0.85, 0.6, 0.62, 0.58])
    slope, intercept = perspective_slope(rows, values)
    assert slope == 0.0 and intercept == pytest.approx(values.mean())
    assert perspective_slope(rows[:2], values[:2]) == (0.0, pytest.approx(values[:2].mean()))


def test_shrinkage_flattens_the_prior_only_where_the_rows_show_no_perspective():
    bump = np.zeros((100, 9, 4), np.float32)
    bump[:, :, 0] = np.array([0.4, 0.6, 0.8, 0.9, 1.0, 0.85, 0.6, 0.62, 0.58])[None, :]
    plain, shrunk = row_prior(bump, 0.99), row_prior(bump, 0.99, shrink=True)
    assert np.ptp(plain) > 0.02 and np.ptp(shrunk) == pytest.approx(0.0, abs=1e-9)
    ramp = np.zeros((100, 9, 4), np.float32)
    ramp[:, :, 0] = (0.3 + 0.2 * np.arange(9))[None, :]
    np.testing.assert_allclose(row_prior(ramp, 0.99, shrink=True), row_prior(ramp, 0.99))


def test_a_model_saved_before_the_shrinkage_loads_as_it_was_fitted(model, tmp_path):
    model.save(tmp_path)
    doc = json.loads((tmp_path / VELOCITY_JSON).read_text())
    assert doc["config"]["perspective_shrinkage"] is VelocityConfig().perspective_shrinkage
    del doc["config"]["perspective_shrinkage"]
    (tmp_path / VELOCITY_JSON).write_text(json.dumps(doc))
    assert VelocityModel.load(tmp_path).config.perspective_shrinkage is False


def test_stage1_scorer_fuses_pixel_and_velocity_and_names_the_winner(model):
    from vad.scoring.normality import fit_normality_model
    from vad.scoring.normality.scorer import NormalityScorer
    from vad.types import Frame

    pixel = fit_normality_model([clip(seed) for seed in range(4)])
    scorer = NormalityScorer(pixel, model)
    images = clip(103, frames=30, fast_row=2)
    frames = [Frame("c", i, float(i), img, offset=i) for i, img in enumerate(images[10:])]
    frames[3] = Frame("c", 3, 3.0, None, offset=3, error="not a JPEG")
    context = [Frame("c", i, float(i), img, offset=i) for i, img in enumerate(images[:10])]
    result = scorer.score(frames, context)
    terms = result.notes["terms"]
    expected = np.fmax(terms["pixel"], terms["velocity"])
    ok = [i for i in range(len(frames)) if i != 3]
    np.testing.assert_allclose(result.scores[ok], expected[ok])
    assert np.isnan(result.scores[3]) and result.notes["fired"][3] is None
    winners = ["velocity" if terms["velocity"][i] > terms["pixel"][i] else "pixel" for i in ok]
    assert [result.notes["fired"][i] for i in ok] == winners
