"""The object-crop appearance model on synthetic footage: people are greyish boxes the detector
finds on key frames; a red object must stand out (named by place) whether the detector finds it
or only the change mask does, and normal footage must rarely score above 0.5."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vad.encoders.detectors.base import Detection
from vad.scoring.appearance_normality import AppearanceNormalityConfig
from vad.scoring.object_appearance import (
    CROPS_JSON,
    ClipCrops,
    ObjectAppearanceModel,
    embed_objects,
    fit_object_appearance,
    frame_objects,
    key_indices,
    moving_regions,
    square_box,
)
from vad.scoring.object_normality import ObjectNormalityConfig

H, W = 120, 160
LOOKS = AppearanceNormalityConfig(regions="objects")
OBJECTS = ObjectNormalityConfig()


class MeanColour:
    """Stand-in encoder: a crop's embedding is its mean BGR colour (unit length)."""

    name, dim = "mean-colour", 3

    def embed_images(self, images):
        means = np.array([im.reshape(-1, 3).mean(axis=0) + 1.0 for im in images])
        return (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)


def person(x: int, y: int, colour, confidence: float = 0.9) -> tuple[Detection, tuple]:
    box = (x / W, y / H, (x + 10) / W, (y + 24) / H)
    return Detection("person", confidence, box), ((x, y), colour)


def clip(seed: int, frames: int = 40, odd: tuple | None = None, detected: bool = True):
    """(frames, detections as detect_key_frames gives them: key frames every 4th frame). Two
    greyish people walk 1 px a frame; `odd` = (first frame, colour) adds a fast object."""
    rng = np.random.default_rng(seed)
    tints = [np.clip(110 + rng.normal(0, 12, 3), 0, 255) for _ in range(2)]
    images, found, current = [], [], None
    for i in range(frames):
        image = np.full((H, W, 3), 60, np.uint8)
        people = [person(10 + i, 20, tints[0]), person(100 - i, 70, tints[1])]
        if odd is not None and i >= odd[0]:
            people.append(person(min(5 * (i - odd[0]), W - 10), 45, odd[1]))
        for _, ((x, y), colour) in people:
            image[y : y + 24, x : x + 10] = colour
        images.append(image)
        if i % 4 == 0:
            shown = people if detected or odd is None else people[:2]
            current = [d for d, _ in shown]
        found.append(current)
    return images, found


@pytest.fixture(scope="module")
def model() -> ObjectAppearanceModel:
    crops = [embed_objects(MeanColour(), *clip(s), LOOKS, OBJECTS) for s in range(6)]
    return fit_object_appearance(crops, "mean-colour", (W, H), LOOKS)


def test_key_frames_are_where_the_detection_list_changes():
    a, b = [], []
    assert key_indices([a, a, a, b, b, a]) == [0, 3, 5]
    assert key_indices([]) == []


def test_square_box_is_square_with_margin_and_inside_the_frame():
    assert square_box((40, 40, 50, 60), 0.25, W, H) == (30, 35, 60, 65)
    x0, y0, x1, y1 = square_box((0, 0, 10, 20), 0.5, W, H)  # at the corner: shifted in
    assert (x0, y0) == (0, 0) and x1 - x0 == y1 - y0 == 40
    assert square_box((0, 0, W, H), 0.2, W, H) == (20, 0, 140, 120)  # at most the short side


def test_moving_regions_find_what_moved_only():
    before = np.full((H, W, 3), 60, np.uint8)
    after = before.copy()
    after[50:70, 100:120] = 200
    assert moving_regions(before, before, 20, 0.002) == []
    (x0, y0, x1, y1), *rest = moving_regions(after, before, 20, 0.002)
    assert not rest and x0 <= 100 and x1 >= 120 and y0 <= 50 and y1 >= 70
    assert moving_regions(after, before, 20, 0.5) == []  # too small


def test_frame_objects_keep_confident_detections_and_uncovered_movers():
    before = np.full((H, W, 3), 60, np.uint8)
    after = before.copy()
    after[20:44, 10:20] = 120  # a detected person that moved
    after[80:100, 120:140] = 200  # an undetected mover
    weak = Detection("person", 0.1, (0.0, 0.0, 0.1, 0.1))
    (covered, _) = person(10, 20, 120)
    boxes = frame_objects(after, before, [covered, weak], LOOKS, OBJECTS)
    assert len(boxes) == 2  # the person, then the mover; the weak detection ignored
    assert all(x1 - x0 == y1 - y0 for x0, y0, x1, y1 in boxes)
    assert len(frame_objects(after, None, [covered], LOOKS, OBJECTS)) == 1  # no earlier frame


def test_embed_objects_embeds_each_key_frames_objects():
    images, found = clip(1, frames=10)
    crops = embed_objects(MeanColour(), images, found, LOOKS, OBJECTS)
    assert crops.frames == 10 and list(crops.keys) == [0, 4, 8]
    assert crops.embeddings.shape == (len(crops.owner), 3) and crops.boxes.shape[1] == 4
    assert set(crops.owner) == {0, 1, 2}


def test_normal_footage_rarely_scores_above_half(model):
    crops = embed_objects(MeanColour(), *clip(99, frames=80), LOOKS, OBJECTS)
    verdicts = model.score(crops)
    assert len(verdicts) == 80
    assert np.mean([v.score > 0.5 for v in verdicts]) < 0.05
    assert all(v.reason is None for v in verdicts if v.score < 0.5)


@pytest.mark.parametrize("detected", [True, False])
def test_an_unusual_object_stands_out_detected_or_only_moving(model, detected):
    images, found = clip(7, odd=(8, (30, 30, 250)), detected=detected)
    verdicts = model.score(embed_objects(MeanColour(), images, found, LOOKS, OBJECTS))
    assert max(v.score for v in verdicts[:8]) < 0.5
    late = verdicts[16:]
    assert min(v.score for v in late) > 0.5
    assert all("looks unlike anything this camera showed" in v.reason for v in late)


def test_scores_are_held_between_key_frames(model):
    crops = embed_objects(MeanColour(), *clip(3), LOOKS, OBJECTS)
    flat = model.config.model_copy(update={"smoothing_frames": 0.0})
    unsmoothed = ObjectAppearanceModel(
        flat, model.encoder, model.frame_size, model.memory, model.reference, model.calibrator
    )
    scores = [v.score for v in unsmoothed.score(crops)]
    assert scores[0] == scores[1] == scores[2] == scores[3]
    assert scores[4] == scores[7]


def test_a_clip_without_objects_scores_calmly(model):
    empty = ClipCrops(
        5, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros((0, 3))
    )
    assert [v.score for v in model.score(empty)] == [model.calibrator(np.zeros(5))[0]] * 5


def test_save_load_round_trip(model, tmp_path):
    model.save(tmp_path)
    loaded = ObjectAppearanceModel.load(tmp_path)
    crops = embed_objects(MeanColour(), *clip(5), LOOKS, OBJECTS)
    assert [v.score for v in loaded.score(crops)] == [v.score for v in model.score(crops)]
    assert loaded.encoder == "mean-colour" and loaded.frame_size == (W, H)
    assert "normal object crops" in loaded.summary()


def test_other_format_is_refused(model, tmp_path):
    model.save(tmp_path)
    doc = json.loads((tmp_path / CROPS_JSON).read_text())
    (tmp_path / CROPS_JSON).write_text(json.dumps({**doc, "format_version": 99}))
    with pytest.raises(ValueError, match="refit it"):
        ObjectAppearanceModel.load(tmp_path)


def test_footage_without_objects_is_a_clear_error():
    images = [np.full((H, W, 3), 60, np.uint8)] * 8
    crops = embed_objects(MeanColour(), images, [[]] * 8, LOOKS, OBJECTS)
    with pytest.raises(ValueError, match="at least 4 objects"):
        fit_object_appearance([crops], "mean-colour", (W, H), LOOKS)
