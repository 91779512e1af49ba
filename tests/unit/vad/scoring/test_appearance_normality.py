"""The appearance model on synthetic tile embeddings: each tile of a camera shows a few usual
views (unit vectors near fixed directions); a view unlike those in one tile must stand out and be
named by position, normal footage must rarely score above 0.5."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vad.scoring.appearance_normality import (
    APPEARANCE_JSON,
    AppearanceNormalityConfig,
    AppearanceNormalityModel,
    embed_tiles,
    fit_appearance_model,
    tile_boxes,
)

DIM, TILES = 32, 6


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def usual_views(seed: int) -> np.ndarray:
    """(TILES, 3, DIM): three usual views per tile, the same for every clip of the camera."""
    return unit(np.random.default_rng(seed).normal(size=(TILES, 3, DIM)))


def footage(views: np.ndarray, seed: int, frames: int = 300) -> np.ndarray:
    """(frames, TILES, DIM): each tile shows one of its usual views plus a little noise."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, views.shape[1], size=(frames, TILES))
    chosen = np.take_along_axis(views[None], pick[..., None, None], axis=2)[:, :, 0]
    return unit(chosen + 0.05 * rng.normal(size=chosen.shape))


@pytest.fixture(scope="module")
def views() -> np.ndarray:
    return usual_views(0)


@pytest.fixture(scope="module")
def model(views) -> AppearanceNormalityModel:
    clips = [footage(views, seed) for seed in range(4)]
    return fit_appearance_model(clips, "tiny-clip", (360, 240))


def test_tiles_are_square_and_cover_the_frame():
    assert tile_boxes(360, 240, 2) == [
        (0, 0, 120, 120),
        (120, 0, 240, 120),
        (240, 0, 360, 120),
        (0, 120, 120, 240),
        (120, 120, 240, 240),
        (240, 120, 360, 240),
    ]
    wide = tile_boxes(1280, 720, 2)  # 16:9: four columns of 360 px, overlapping to cover
    assert len(wide) == 8 and {x1 - x0 for x0, _, x1, _ in wide} == {360}
    assert max(x1 for _, _, x1, _ in wide) == 1280 and min(x0 for x0, *_ in wide) == 0
    assert tile_boxes(240, 360, 2)[-1] == (120, 240, 240, 360)  # portrait


def test_normal_footage_rarely_scores_above_half(model, views):
    verdicts = model.score(footage(views, 99))
    alarms = np.mean([v.score > 0.5 for v in verdicts])
    assert alarms < 0.03
    assert all(v.reason is None for v in verdicts if v.score < 0.5)


def test_an_unusual_view_in_one_tile_stands_out_and_is_named(model, views):
    frames = footage(views, 7, frames=20)
    frames[:, 5] = unit(np.random.default_rng(3).normal(size=(20, DIM)))  # bottom right tile
    verdicts = model.score(frames)
    assert min(v.score for v in verdicts) > 0.5
    assert all("bottom right of the view looks unlike" in v.reason for v in verdicts)


def test_wrong_tile_count_is_a_clear_error(model, views):
    with pytest.raises(ValueError, match="expects 6 tiles"):
        model.score(footage(views, 1, frames=3)[:, :4])


def test_too_little_footage_is_a_clear_error(views):
    with pytest.raises(ValueError, match="at least 4 embedded frames"):
        fit_appearance_model([footage(views, 1, frames=3)], "tiny-clip", (360, 240))
    with pytest.raises(ValueError, match="no training frames"):
        fit_appearance_model([], "tiny-clip", (360, 240))


def test_save_load_round_trip(model, views, tmp_path):
    model.save(tmp_path)
    loaded = AppearanceNormalityModel.load(tmp_path)
    frames = footage(views, 5, frames=30)
    assert [v.score for v in loaded.score(frames)] == [v.score for v in model.score(frames)]
    assert loaded.encoder == "tiny-clip" and loaded.frame_size == (360, 240)


def test_other_format_is_refused(model, tmp_path):
    model.save(tmp_path)
    doc = json.loads((tmp_path / APPEARANCE_JSON).read_text())
    (tmp_path / APPEARANCE_JSON).write_text(json.dumps({**doc, "format_version": 99}))
    with pytest.raises(ValueError, match="refit it"):
        AppearanceNormalityModel.load(tmp_path)


class MeanColour:
    """Stand-in encoder for the tiling arithmetic: a tile's embedding is its mean BGR colour."""

    dim = 3

    def embed_images(self, images):
        return unit(np.array([im.reshape(-1, 3).mean(axis=0) + 1.0 for im in images]))


def test_embed_tiles_embeds_each_tile_of_each_frame():
    frame = np.zeros((240, 360, 3), np.uint8)
    frame[120:, 240:] = (0, 0, 255)  # bottom right tile red
    out = embed_tiles(MeanColour(), [frame, frame], AppearanceNormalityConfig().tile_rows)
    assert out.shape == (2, TILES, 3)
    assert np.argmax(out[0, 5]) == 2 and np.allclose(out[0, 0], out[0, 1])
