"""The object model's speed novelty (track round): each box's speed from its track over the key
frames' detections, against its class's reference speed from the training footage. Synthetic
walkway as tests/unit/vad/scoring/test_object_normality.py: people walk 0.003 of the frame a frame
with boxes 0.12 high, 10 frames a second: 0.25 body heights a second."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vad.encoders.detectors import Detection
from vad.scoring.object_normality import (
    OBJECTS_JSON,
    ObjectNormalityConfig,
    ObjectNormalityModel,
    fit_object_model,
    frame_speeds,
    key_frame_indices,
)
from vad.tracks import box_speeds

FPS = 10.0
SPEED = ObjectNormalityConfig(speed=True)


def person(x: float, y: float, confidence: float = 0.8) -> Detection:
    return Detection("person", confidence, (x - 0.02, y - 0.06, x + 0.02, y + 0.06))


def keyed(clip: list[list[Detection]], every: int = 4) -> list[list[Detection]]:
    """Every `every`-th frame's list, shared by the frames up to the next (`detect_key_frames`)."""
    return [clip[i - i % every] for i in range(len(clip))]


def walkway(seed: int, clips: int = 4, frames: int = 200) -> list[list[list[Detection]]]:
    """Six people, each on their own row, coming and going (so the count varies), walking right
    and starting again at the left edge."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(clips):
        starts, offsets = rng.uniform(0, 0.9, size=6), rng.integers(0, 60, size=6)
        out.append(
            keyed(
                [
                    [
                        person(0.05 + (starts[k] + 0.003 * t) % 0.9, 0.35 + 0.06 * k)
                        for k in range(6)
                        if (t + offsets[k]) // 60 % 4
                    ]
                    for t in range(frames)
                ]
            )
        )
    return out


def times(n: int) -> list[float]:
    return [i / FPS for i in range(n)]


@pytest.fixture(scope="module")
def model() -> ObjectNormalityModel:
    return fit_object_model(walkway(0), "test-detector", SPEED, FPS)


def test_reference_speed_is_the_walkers_pace(model):
    assert model.reference_speeds["person"] == pytest.approx(0.25, abs=0.05)
    note = model.metadata["speeds"]
    assert 0.5 < note["share_with_speed"] <= 1.0
    assert note["classes"]["person"]["median"] == pytest.approx(0.25, abs=0.02)


def test_a_runner_scores_above_a_walker_and_the_reason_says_how_fast(model):
    walk = keyed([[person(0.1 + 0.003 * t, 0.6)] for t in range(40)])
    run = keyed([[person(0.1 + 0.02 * t, 0.6)] for t in range(40)])  # 1.67 heights / s
    walked = model.score(walk, times(40))
    ran = model.score(run, times(40))
    assert max(v.score for v in ran) > 0.9 > 0.5 > max(v.score for v in walked)
    reason = ran[-1].reason
    assert reason.startswith("person moving 1.7 body heights/s") and "fastest usual here" in reason


def test_without_times_or_with_speed_off_no_box_has_a_speed(model):
    run = keyed([[person(0.1 + 0.02 * t, 0.6)] for t in range(40)])
    assert max(v.score for v in model.score(run)) < 0.5
    plain = fit_object_model(walkway(0), "test-detector", None, FPS)
    assert plain.reference_speeds == {} and "speeds" not in plain.metadata
    assert plain.score(run, times(40)) == plain.score(run)


def test_frames_between_key_frames_add_nothing_to_the_tracks():
    """The speeds of a keyed clip are those of its key frames alone, each repeated to the frames
    that reuse its list; the same boxes as fresh lists on every frame would be tracked anew."""
    clip = keyed([[person(0.1 + 0.01 * t, 0.6)] for t in range(40)])
    assert key_frame_indices(clip) == list(range(0, 40, 4))
    alone = box_speeds(clip[::4], times(40)[::4], 1.0)
    spread = frame_speeds(clip, times(40), SPEED)
    assert spread == [alone[i // 4] for i in range(40)]
    assert [s for _, s in alone[-1]] == pytest.approx([0.01 * FPS / 0.12])
    fresh = frame_speeds([list(f) for f in clip], times(40), SPEED)
    assert fresh != spread  # a box repeated on 3 frames in 4 reads as standing still


def test_track_confidence_links_weaker_boxes_than_the_place_novelty_counts():
    clip = keyed([[person(0.1 + 0.01 * t, 0.6, confidence=0.35)] for t in range(40)])
    assert all(not s for s in frame_speeds(clip, times(40), SPEED))
    weak = ObjectNormalityConfig(speed=True, track_confidence=0.3)
    assert frame_speeds(clip, times(40), weak)[-1]


def test_a_class_with_under_50_training_speeds_gets_no_reference():
    short = [keyed([[person(0.1 + 0.003 * t, 0.6)] for t in range(60)])]
    fitted = fit_object_model(short, "test-detector", SPEED, FPS)
    assert fitted.metadata["speeds"]["classes"]["person"]["speeds"] < 50
    assert fitted.reference_speeds == {}
    assert fit_object_model(walkway(0), "test-detector", SPEED).reference_speeds == {}  # no fps


def test_folds_cut_tracks_at_their_edges():
    """No track crosses a contiguous fold's edge: the more folds, the more boxes at a track's
    start, without a speed."""
    one = walkway(0, clips=1, frames=400)
    shares = [
        fit_object_model(one, "test-detector", SPEED.model_copy(update={"folds": n}), FPS).metadata[
            "speeds"
        ]["share_with_speed"]
        for n in (2, 8)
    ]
    assert shares[0] > shares[1] > 0.5


def test_reference_speeds_are_saved_and_kept_by_feedback(model, tmp_path):
    loaded = ObjectNormalityModel.load(model.save(tmp_path).parent)
    assert loaded.reference_speeds == model.reference_speeds and loaded.config.speed
    extended = model.extend_detections(walkway(3, clips=1)[0])
    assert extended.reference_speeds == model.reference_speeds


def test_a_model_saved_before_the_speeds_loads_without_them(model, tmp_path):
    path = model.save(tmp_path)
    doc = json.loads(path.read_text())
    del doc["reference_speeds"]
    for name in ("speed", "track_confidence", "speed_seconds"):
        del doc["config"][name]
    path.write_text(json.dumps(doc))
    old = ObjectNormalityModel.load(tmp_path)
    assert old.reference_speeds == {} and not old.config.speed
    assert (tmp_path / OBJECTS_JSON).is_file()
