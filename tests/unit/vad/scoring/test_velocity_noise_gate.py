"""The velocity model's noise gate: a pair noisier than the camera learned is blurred and
scored against normal speeds learned on blurred pairs (conditions round 2,
docs/benchmarks-normality.md). The synthetic footage of test_velocity."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from tests.unit.vad.scoring.test_velocity import clip
from vad.scoring.velocity import (
    NOISE_FRAMES,
    VELOCITY_JSON,
    VelocityModel,
    fit_velocity_model,
    noise_sigma,
    noisy_pairs,
)


def noisy(frames: list[np.ndarray], sigma: float, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        field = rng.normal(0, sigma, f.shape[:2])
        field = field[..., None] if f.ndim == 3 else field
        out.append(np.clip(np.rint(f + field), 0, 255).astype(np.uint8))
    return out


def ungated(model: VelocityModel) -> VelocityModel:
    return dataclasses.replace(model, noise_gate=None, blurred_normal=None)


@pytest.fixture(scope="module")
def model() -> VelocityModel:
    return fit_velocity_model([clip(seed) for seed in range(6)])


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_estimator_finds_the_sigma_of_gaussian_noise_on_a_flat_frame(sigma):
    rng = np.random.default_rng(1)
    grey = rng.normal(128, sigma, (240, 320)).astype(np.float32)
    assert noise_sigma(grey) == pytest.approx(sigma, rel=0.05)


def test_estimator_rises_with_noise_on_a_textured_scene():
    grey = cv2.cvtColor(clip(0, frames=1)[0], cv2.COLOR_BGR2GRAY)
    assert noise_sigma(noisy([grey], 6.0)[0]) > noise_sigma(grey) + 3


def test_the_gate_and_the_blurred_map_are_learned_and_saved(model, tmp_path):
    assert model.gated and model.noise_gate > 0
    assert model.blurred_normal.shape == model.normal.shape
    model.save(tmp_path)
    again = VelocityModel.load(tmp_path)
    assert again.noise_gate == model.noise_gate
    np.testing.assert_array_equal(again.blurred_normal, model.blurred_normal)
    frames = noisy(clip(8, frames=20), 8.0)
    np.testing.assert_array_equal(again.score_frames(frames)[1], model.score_frames(frames)[1])


def test_a_model_saved_before_the_gate_loads_and_scores_as_then(model, tmp_path):
    model.save(tmp_path)
    doc = json.loads((tmp_path / VELOCITY_JSON).read_text())
    del doc["noise_gate"], doc["blurred_normal"]
    (tmp_path / VELOCITY_JSON).write_text(json.dumps(doc))
    old = VelocityModel.load(tmp_path)
    assert old.noise_gate is None and old.blurred_normal is None and not old.gated
    frames = noisy(clip(9, frames=20), 8.0)
    np.testing.assert_array_equal(
        old.score_frames(frames)[1], ungated(model).score_frames(frames)[1]
    )
    assert old.context_frames == model.context_frames - (NOISE_FRAMES - 1)


def test_clean_training_like_footage_scores_bit_identically_with_the_gate(model):
    frames = clip(10, frames=40, fast_row=1)
    np.testing.assert_array_equal(
        model.score_frames(frames)[1], ungated(model).score_frames(frames)[1]
    )


def test_noisier_footage_opens_the_gate_and_is_scored_against_the_blurred_map(model):
    frames = noisy(clip(11, frames=40), 8.0)
    greys = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), (160, 120)) for f in frames]
    assert noisy_pairs(greys, model.noise_gate).all()
    gated, plain = model.score_frames(frames)[0], ungated(model).score_frames(frames)[0]
    assert np.median(gated[5:]) < np.median(plain[5:])


def test_one_noisy_frame_does_not_open_the_gate(model):
    greys = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in clip(12, frames=10)]
    greys[6] = noisy([greys[6]], 12.0)[0]
    assert not noisy_pairs([cv2.resize(g, (160, 120)) for g in greys], model.noise_gate).any()


def test_extend_raises_both_maps_and_keeps_the_gate(model):
    alarm = noisy(clip(15, frames=30, fast_row=2), 8.0)
    learned = model.extend([alarm])
    assert learned.noise_gate == model.noise_gate
    assert (learned.normal >= model.normal).all() and (
        learned.blurred_normal >= model.blurred_normal
    ).all()
    assert (learned.blurred_normal > model.blurred_normal).any()
    assert learned.score_frames(alarm)[0][5:].mean() < model.score_frames(alarm)[0][5:].mean()
    old = ungated(model).extend([alarm])
    assert not old.gated
    np.testing.assert_array_equal(old.normal, learned.normal)


def test_windows_with_their_context_match_a_whole_pass(model):
    """The worker's path: each window with `context_frames` frames before it gives the whole
    clip's scores, the noise window included."""
    frames = clip(13, frames=20) + noisy(clip(13, frames=40)[20:], 8.0)
    whole = model.score_frames(frames)[1]
    k = model.context_frames
    for start in (k, 18, 22, 25, 31):
        part = model.score_frames(frames[start : start + 6], context=frames[start - k : start])[1]
        np.testing.assert_array_equal(part, whole[start : start + 6])


def test_the_worker_reads_enough_context_for_the_gate(model):
    from vad.scoring.normality import fit_normality_model
    from vad.scoring.normality.scorer import NormalityScorer
    from vad.settings import WindowConfig
    from vad.types import Frame

    scorer = NormalityScorer(fit_normality_model([clip(seed) for seed in range(3)]), model)
    k = WindowConfig().context_frames
    assert k >= scorer.context_frames == model.context_frames
    images = clip(14, frames=12) + noisy(clip(14, frames=30)[12:], 8.0)
    whole = model.score_frames(images)[1]
    frames = [Frame("c", i, float(i), img, offset=i) for i, img in enumerate(images)]
    result = scorer.score(frames[16:], frames[16 - k : 16])
    np.testing.assert_allclose(result.notes["terms"]["velocity"], whole[16:], atol=1e-9)
