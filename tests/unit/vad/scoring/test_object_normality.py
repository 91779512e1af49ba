"""The per-camera object model on a synthetic walkway: people walk along a band in the lower half,
at most a handful at a time. Detections are built by hand (the model is pure code; the detector
that feeds it in the pipeline is tested in tests/integration/test_encoders_pipeline.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vad.encoders.detectors import Detection
from vad.scoring.object_normality import (
    OBJECTS_JSON,
    ObjectNormalityConfig,
    ObjectNormalityModel,
    box_descriptors,
    fit_object_model,
)


def person(x: float, y: float, confidence: float = 0.8, size: float = 1.0) -> Detection:
    w, h = 0.04 * size, 0.12 * size
    return Detection("person", confidence, (x - w / 2, y - h / 2, x + w / 2, y + h / 2))


def walkway(seed: int, clips: int = 4, frames: int = 200) -> list[list[list[Detection]]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(clips):
        starts = rng.uniform(0.05, 0.95, size=6)
        out.append(
            [
                [
                    person((starts[k] + 0.003 * t) % 1.0, 0.6 + 0.08 * np.sin(k + t / 40))
                    for k in range(rng.integers(0, 6))
                ]
                for t in range(frames)
            ]
        )
    return out


@pytest.fixture(scope="module")
def model() -> ObjectNormalityModel:
    return fit_object_model(walkway(0), "test-detector")


def test_normal_footage_rarely_scores_above_half(model):
    scores = [v.score for clip in walkway(1) for v in model.score(clip)]
    assert np.mean(np.array(scores) > 0.5) <= 0.02
    assert np.median(scores) < 0.2


def test_unseen_class_scores_the_configured_constant_with_a_reason(model):
    bike = Detection("bicycle", 0.7, (0.4, 0.5, 0.5, 0.7))
    verdict = model.score([[person(0.5, 0.6), bike]])[0]
    assert verdict.score == pytest.approx(0.9)
    assert "bicycle" in verdict.reason and "never showed" in verdict.reason


def test_person_where_nobody_walks_is_unusual(model):
    verdict = model.score([[person(0.5, 0.1)]])[0]
    assert verdict.score > 0.75
    assert verdict.reason.startswith("person at (0.50, 0.10)")


def test_person_of_unusual_size_is_unusual(model):
    assert model.score([[person(0.5, 0.6, size=3.0)]])[0].score > 0.75


def test_crowd_beyond_the_usual_count_is_unusual(model):
    crowd = [person(0.1 + 0.06 * k, 0.6) for k in range(14)]
    verdict = model.score([crowd])[0]
    assert verdict.score > 0.5
    assert "14 x person" in verdict.reason


def test_weak_and_ignored_detections_do_not_count():
    config = ObjectNormalityConfig(ignore_classes=("bird",))
    model = fit_object_model(walkway(0, clips=2, frames=100), "d", config)
    weak_car = Detection("car", 0.2, (0.1, 0.1, 0.3, 0.3))
    bird = Detection("bird", 0.9, (0.1, 0.1, 0.12, 0.12))
    verdict = model.score([[weak_car, bird]])[0]
    assert verdict.score < 0.5 and verdict.reason is None


def test_empty_scene_footage_makes_every_object_unseen():
    model = fit_object_model([[[] for _ in range(50)]], "d")
    assert model.classes == {}
    assert model.score([[]])[0].score < 0.5
    assert model.score([[person(0.5, 0.5)]])[0].score == pytest.approx(0.9)
    assert "any detected object is unusual" in model.summary()


def test_no_frames_is_a_clear_error():
    with pytest.raises(ValueError, match="no training frames"):
        fit_object_model([], "d")


def test_save_load_round_trip(model, tmp_path):
    model.save(tmp_path)
    loaded = ObjectNormalityModel.load(tmp_path)
    frames = walkway(2, clips=1, frames=50)[0] + [[person(0.5, 0.1)]]
    assert [v.score for v in loaded.score(frames)] == pytest.approx(
        [v.score for v in model.score(frames)], abs=1e-6
    )
    assert loaded.detector == "test-detector"
    assert "person" in loaded.summary()


def test_other_format_is_refused(model, tmp_path):
    model.save(tmp_path)
    doc = json.loads((tmp_path / OBJECTS_JSON).read_text())
    doc["format_version"] = 99
    (tmp_path / OBJECTS_JSON).write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="refit it"):
        ObjectNormalityModel.load(tmp_path)


def test_box_descriptors_are_centre_and_size():
    d = Detection("car", 0.9, (0.2, 0.4, 0.6, 0.5))
    assert box_descriptors([d])[0].tolist() == pytest.approx([0.4, 0.45, 0.4, 0.1])
    assert box_descriptors([]).shape == (0, 4)


def test_frames_sharing_a_key_frames_list_score_as_each_list_alone(model, monkeypatch):
    """Key frames' lists repeated for the frames between them (as `detect_key_frames` returns
    them) are measured once per list and give exactly the verdicts of each list scored anew."""
    from vad.scoring import object_normality

    clip = walkway(2, clips=1, frames=40)[0]
    clip[4] = [person(0.5, 0.2), Detection("bicycle", 0.7, (0.4, 0.5, 0.5, 0.7))]
    keys = [clip[i - i % 4] for i in range(len(clip))]  # every 4th frame's list, shared
    copies = [list(f) for f in keys]  # the same detections, every frame its own list
    measured = []
    real = object_normality._raw_novelty
    monkeypatch.setattr(
        object_normality, "_raw_novelty", lambda f, c: measured.append(1) or real(f, c)
    )
    shared = model.score(keys)
    assert len(measured) == len(clip) // 4
    assert shared == model.score(copies)
    assert len(measured) == len(clip) // 4 + len(clip)
