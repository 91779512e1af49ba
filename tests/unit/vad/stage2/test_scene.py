"""Scene descriptions from detections: tracks, speeds against the camera's normal footage,
direction, place in the view, head counts."""

from __future__ import annotations

from vad.encoders.detectors import Detection
from vad.stage2.scene import (
    SceneNorms,
    describe_window,
    fit_scene_norms,
    states_a_speed,
    track_objects,
)

FPS = 10


def walker(x0: float, y: float, dx_per_frame: float, n: int = 20, name: str = "person", h=0.2):
    """Boxes of one object moving horizontally, one per frame."""
    out = []
    for i in range(n):
        cx = x0 + dx_per_frame * i
        out.append(Detection(name, 0.9, (cx - 0.03, y - h / 2, cx + 0.03, y + h / 2)))
    return out


def frames_of(*objects):
    n = max(len(o) for o in objects)
    return [[o[i] for o in objects if i < len(o)] for i in range(n)]


def times(n: int, start: float = 100.0) -> list[float]:
    return [start + i / FPS for i in range(n)]


def test_one_track_per_object_with_speed_direction_and_place():
    frames = frames_of(walker(0.1, 0.8, 0.01), walker(0.9, 0.3, -0.01))
    tracks = track_objects(frames, times(20))
    assert len(tracks) == 2
    right, left = sorted(tracks, key=lambda k: k.xs[0])
    assert right.direction() == "to the right" and left.direction() == "to the left"
    # 0.01 of the frame per frame at 10 fps, box height 0.2: 0.5 body heights per second
    assert abs(right.speed() - 0.5) < 1e-6
    assert right.region() == "in the bottom left of the view"
    assert abs(right.duration - 1.9) < 1e-6


def test_a_track_spanning_exactly_the_minimum_is_measurable_wherever_its_window_starts():
    """Key frames 0.4 s apart: three detections span 0.8 s, the minimum, though 1.2 - 0.4 is
    0.7999999999999999 in floats; the verdict must not depend on the window's start time."""
    boxes = walker(0.1, 0.5, 0.01, n=3)
    for start in (0.0, 0.4, 100.0, 1234.8):
        stamps = [start + 0.4 * k for k in range(3)]
        (track,) = track_objects([[b] for b in boxes], stamps)
        assert track.measurable, start
    (short,) = track_objects([[b] for b in boxes], [0.4, 0.8, 1.1])  # 0.7 s: too short
    assert not short.measurable


def test_weak_detections_are_ignored():
    weak = [Detection("vehicle", 0.1, (0.1, 0.1, 0.3, 0.3))] * 10
    assert track_objects([[d] for d in weak], times(10)) == []


def normal_norms() -> SceneNorms:
    clip = frames_of(*(walker(0.1 + 0.05 * k, 0.2 + 0.07 * k, 0.01) for k in range(5)))
    return fit_scene_norms([(clip, times(20))])


def test_norms_from_normal_footage():
    norms = normal_norms()
    assert set(norms.speeds) == {"person"} and abs(norms.speeds["person"] - 0.5) < 1e-3
    assert norms.counts["person"] == 5


def test_a_fast_vehicle_on_a_walkway_stands_out_and_people_are_counted():
    norms = normal_norms()
    people = [walker(0.1 + 0.1 * k, 0.1 + 0.1 * k, 0.01) for k in range(9)]
    car = walker(0.9, 0.85, -0.0125, name="vehicle", h=0.1)  # 1.25 heights/s = 2.5x
    lines = describe_window(frames_of(car, *people), times(20), norms)
    assert lines[0][0] == 0.0
    first = lines[0][1]
    assert first.startswith("a vehicle drives to the left in the bottom right of the view")
    assert "2.5x the usual speed of people here" in first
    assert "never showed vehicles" in first
    assert lines[-1][1] == "9 people walk; 9 people in view, usually up to 5"


def test_standers_share_one_line_with_their_places_and_the_fastest_mover_comes_first():
    """Standing is 'unusually slow' but ordinary on a walkway: one line for all of them (each
    line is read by the LLM); movers that stand out come first, the fastest first."""
    norms = normal_norms()
    standers = [walker(x, y, 0.0) for x, y in ((0.5, 0.5), (0.8, 0.5), (0.5, 0.45))]
    slow, fast = walker(0.1, 0.2, 0.02), walker(0.1, 0.8, 0.03)  # 2x and 3x the usual speed
    lines = [s for _, s in describe_window(frames_of(*standers, slow, fast), times(20), norms)]
    assert lines[0].startswith("a person moves to the right in the bottom centre of the view")
    assert "at 3.0x the usual speed" in lines[0] and "at 2.0x the usual speed" in lines[1]
    assert lines[2] == "3 people stand in the centre and the middle right of the view"
    assert len(lines) == 3


def test_only_unusual_movers_get_a_speed_that_stage_2_may_ask_about():
    """A quiet window (standers, walkers at the usual pace) states no speed: stage 2 then does
    not ask how fast anything moves (asked, a small LLM invented one for a stander)."""
    norms = normal_norms()
    stander, usual = walker(0.5, 0.5, 0.0), walker(0.1, 0.2, 0.01)
    quiet = [s for _, s in describe_window(frames_of(stander, usual), times(20), norms)]
    assert quiet == ["a person stands in the centre of the view", "a person walks"]
    assert not states_a_speed(quiet)
    fast = walker(0.1, 0.8, 0.03)
    busy = [s for _, s in describe_window(frames_of(stander, fast), times(20), norms)]
    assert states_a_speed(busy)
    bicycle = walker(0.1, 0.5, 0.02, name="bicycle")  # no norms: body heights per second
    assert states_a_speed(s for _, s in describe_window(frames_of(bicycle), times(20)))


def test_without_norms_speed_is_in_body_heights():
    lines = describe_window(frames_of(walker(0.1, 0.5, 0.01)), times(20))
    assert lines == [(0.0, "a person walks")]
    lines = describe_window(frames_of(walker(0.1, 0.5, 0.02, name="bicycle")), times(20))
    assert "a bicycle rides to the right" in lines[0][1]
    assert "1.0 body heights per second" in lines[0][1]


def test_nothing_detected_is_said():
    assert describe_window([[], []], times(2)) == [(0.0, "no person or object is detected")]
    assert describe_window([], []) == []


def test_norms_round_trip():
    norms = normal_norms()
    assert SceneNorms.from_dict(norms.to_dict()) == norms


def test_norms_are_saved_beside_the_camera_model_and_missing_ones_are_none(tmp_path):
    norms = normal_norms()
    norms.save(tmp_path)
    assert SceneNorms.load(tmp_path) == norms
    assert SceneNorms.load(tmp_path / "absent") is None and SceneNorms.load(None) is None
    (tmp_path / "scene.json").write_text("not json")
    assert SceneNorms.load(tmp_path) is None
