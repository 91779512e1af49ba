"""The one tracker (stage 2's descriptions and the object model's speeds): linking, and a box's
speed over its track's last seconds."""

from __future__ import annotations

import pytest

from vad.encoders.detectors import Detection
from vad.tracks import Track, box_speeds, recent_speed, track_objects

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


def test_weak_detections_are_ignored():
    weak = [Detection("vehicle", 0.1, (0.1, 0.1, 0.3, 0.3))] * 10
    assert track_objects([[d] for d in weak], times(10)) == []
    assert len(track_objects([[d] for d in weak], times(10), min_confidence=0.1)) == 1


def test_a_jump_beyond_one_and_a_half_box_heights_starts_a_new_track():
    near, far = walker(0.1, 0.5, 0.0, n=1)[0], walker(0.5, 0.5, 0.0, n=1)[0]  # 0.4 > 1.5 x 0.2
    assert len(track_objects([[near], [far]], times(2))) == 2


def test_exact_key_frame_spacing_counts_as_long_enough():
    """Times are index / rate: 1.2 - 0.4 is 0.7999999999999999 s, still the 0.8 s a speed needs."""
    track = Track("person", [0.4, 0.8, 1.2], [0.1, 0.2, 0.3], [0.5] * 3, [0.2] * 3)
    assert 1.2 - 0.4 < 0.8 and track.measurable


def test_recent_speed_uses_only_the_last_seconds():
    """Standing for 2 s then walking 0.05 a frame (h 0.2, 10 fps: 2.5 heights / s): the speed
    over the last second is the walk's, not the whole track's average."""
    track = Track("person")
    x = 0.3
    for i in range(30):
        if i >= 20:
            x += 0.05
        track.add(i / FPS, (x - 0.03, 0.4, x + 0.03, 0.6))
    assert recent_speed(track, 29, 1.0) == pytest.approx(2.5)
    assert recent_speed(track, 15, 1.0) == pytest.approx(0.0)
    assert recent_speed(track, 1, 1.0) is None  # two points: no speed yet
    assert track.speed() < 1.0


def test_box_speeds_gives_each_frame_its_boxes_with_a_speed():
    frames = frames_of(walker(0.1, 0.8, 0.01), walker(0.9, 0.3, -0.04))
    speeds = box_speeds(frames, times(20), 1.0)
    assert speeds[:8] == [[]] * 8  # under 0.8 s of track: no speed
    assert sorted(s for _, s in speeds[12]) == pytest.approx([0.5, 2.0])
    assert {name for f in speeds for name, _ in f} == {"person"}
