"""`Stage1` with stand-in encoders: the appearance model's regions switch (`appearance.regions`)
picks the tile or the object-crop model, and the object crops reuse the object model's
detections (the detector runs once per scored clip)."""

from __future__ import annotations

import numpy as np
import pytest

from vad.encoders.detectors.base import Detection
from vad.eval.stage1 import Stage1, Stage1Encoders, installed_encoders
from vad.scoring.appearance_normality import AppearanceNormalityModel
from vad.scoring.object_appearance import ObjectAppearanceModel
from vad.settings import CoreSettings

H, W = 120, 160


class MeanColour:
    """Stand-in image encoder: a crop's embedding is its mean BGR colour (unit length)."""

    name, dim = "mean-colour", 3

    def embed_images(self, images):
        means = np.array([im.reshape(-1, 3).mean(axis=0) + 1.0 for im in images])
        return (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)


class Boxes:
    """Stand-in detector: every bright region's bounding box is a person."""

    name = "boxes"

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, images):
        self.calls += 1
        out = []
        for image in images:
            ys, xs = np.nonzero(image[..., 2] > 90)
            if len(xs) == 0:
                out.append([])
                continue
            box = (xs.min() / W, ys.min() / H, (xs.max() + 1) / W, (ys.max() + 1) / H)
            out.append([Detection("person", 0.9, box)])
        return out


def clip(seed: int, frames: int = 30) -> list[np.ndarray]:
    """A textured view with one greyish person walking 2 px a frame."""
    rng = np.random.default_rng(seed)
    background = rng.integers(40, 70, (H, W, 3), np.uint8)
    images = []
    for i in range(frames):
        image = background.copy()
        x = (10 + 2 * i) % (W - 12)
        image[40:64, x : x + 10] = (110, 115, 120)
        images.append(image)
    return images


def stage1(regions: str) -> tuple[Stage1, Boxes]:
    settings = CoreSettings.model_validate(
        {"appearance": {"enabled": True, "regions": regions, "learn_every": 1}}
    )
    detector = Boxes()
    fitted = Stage1(settings, Stage1Encoders(tiles=MeanColour(), detector=detector))
    fitted.fit(clip(seed) for seed in range(4))
    return fitted, detector


@pytest.mark.parametrize(
    ("regions", "kind"), [("tiles", AppearanceNormalityModel), ("objects", ObjectAppearanceModel)]
)
def test_the_regions_switch_picks_the_appearance_model(regions, kind):
    fitted, detector = stage1(regions)
    assert isinstance(fitted.appearance, kind)
    assert "appearance (mean-colour)" in fitted.parts
    detector.calls = 0
    scores = fitted.score(clip(9), rate=10.0)
    assert set(scores.terms) >= {"pixel", "objects", "appearance"}
    assert len(scores.terms["appearance"]) == 30 and np.isfinite(scores.fused).all()
    assert detector.calls == 1  # one key-frame detection run shared by both models


def test_object_crops_need_the_detector(tmp_path):
    settings = CoreSettings.model_validate(
        {
            "model_dir": str(tmp_path),
            "appearance": {"enabled": True, "regions": "objects"},
        }
    )
    encoders = installed_encoders(settings)
    assert encoders.tiles is None and encoders.detector is None
    assert "appearance" in encoders.off


def test_extend_keeps_the_object_crop_model():
    fitted, _ = stage1("objects")
    learned = fitted.extend([clip(5)], recalibrate=False, spread=0.0)
    assert learned.appearance is fitted.appearance and learned.pixel is not fitted.pixel
