"""`Stage1` (what `vad eval` and the proxies fit and score) with the velocity model at another
width: the velocity term follows `velocity.width` / `velocity.cell_px`, and the pixel term, whose
per-row threshold reads a perspective prior of its own flow, is unchanged to the last bit
(velocity resolution round: a variant changes the velocity term only)."""

from __future__ import annotations

import numpy as np

from vad.eval.stage1 import Stage1
from vad.scoring.normality import NormalityConfig
from vad.scoring.velocity import VelocityConfig
from vad.settings import CoreSettings

H, W = 120, 160


def clip(seed: int, frames: int = 24) -> list[np.ndarray]:
    """A textured scene with two textured walkers at different speeds."""
    rng = np.random.default_rng(seed)
    background = np.kron(
        np.random.default_rng(0).integers(60, 120, (H // 4, W // 4), dtype=np.uint8),
        np.ones((4, 4), np.uint8),
    )
    walker = np.random.default_rng(1).integers(150, 255, (24, 12), dtype=np.uint8)
    starts = rng.uniform(0, W - 12, 2)
    out = []
    for t in range(frames):
        frame = background.copy()
        for (y, speed), start in zip([(20, 1.0), (80, 2.0)], starts, strict=True):
            x = int((start + speed * t) % (W - 12))
            frame[y : y + 24, x : x + 12] = walker
        out.append(np.repeat(frame[..., None], 3, axis=2))
    return out


def fitted(velocity: VelocityConfig) -> Stage1:
    settings = CoreSettings(
        normality=NormalityConfig(calibration_folds=2),
        velocity=velocity,
    )
    stage1 = Stage1(settings)
    stage1.fit([clip(seed) for seed in range(3)])
    return stage1


def test_a_finer_velocity_width_changes_the_velocity_term_only():
    base = fitted(VelocityConfig(calibration_folds=2))
    finer = fitted(VelocityConfig(width=320, cell_px=16, calibration_folds=2))
    assert finer.velocity is not None and finer.velocity.config.width == 320
    assert finer.velocity.normal.shape == (240 // 16, 320 // 16)
    frames = clip(9)
    a, b = base.score(frames, 10.0), finer.score(frames, 10.0)
    assert np.array_equal(a.terms["pixel"], b.terms["pixel"])
    assert np.isfinite(b.terms["velocity"]).all()
    assert not np.array_equal(a.terms["velocity"], b.terms["velocity"])
