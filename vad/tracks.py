"""Objects followed from frame to frame: detections linked into tracks, and how fast each moves in
its own box heights per second.

One tracker for stage 2's scene descriptions (`vad.stage2.scene`) and the object model's speed
novelty (`vad.scoring.object_normality`). Box heights per second cancel most of the perspective
and the resolution: a walker near or far, at 240 or 640 px, moves about one body height a second.

Pure: detections in (`vad.encoders.detectors.Detection`, shared vocabulary labels), tracks and
speeds out; callers run the detector.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vad.encoders.detectors import Detection

MIN_CONFIDENCE = 0.4  # as the object model: a weak detection is not worth a sentence
MAX_GAP_SECONDS = 0.6  # a track survives this long without a detection
MAX_JUMP_HEIGHTS = 1.5  # a match moves at most this many of its box heights between detections
MIN_TRACK_POINTS = 3  # fewer detections give no speed or direction
MIN_TRACK_SECONDS = 0.8  # shorter tracks (flicker, identity switches) give no speed either
# Frame times are index / rate: 1.2 - 0.4 is 0.7999999999999999 s, which must still count as 0.8
_TIME_SLACK = 1e-9


@dataclass
class Track:
    """One object followed through a window: times (s) and box centre / height (frame fractions)."""

    class_name: str
    times: list[float] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    heights: list[float] = field(default_factory=list)

    def add(self, t: float, box: tuple[float, float, float, float]) -> None:
        x1, y1, x2, y2 = box
        self.times.append(t)
        self.xs.append((x1 + x2) / 2)
        self.ys.append((y1 + y2) / 2)
        self.heights.append(max(y2 - y1, 1e-3))

    @property
    def duration(self) -> float:
        return self.times[-1] - self.times[0]

    @property
    def measurable(self) -> bool:
        return (
            len(self.times) >= MIN_TRACK_POINTS and self.duration >= MIN_TRACK_SECONDS - _TIME_SLACK
        )

    def speed(self) -> float:
        """Path length per second in the object's own (median) box heights."""
        path = float(np.sum(np.hypot(np.diff(self.xs), np.diff(self.ys))))
        return path / float(np.median(self.heights)) / self.duration

    def direction(self) -> str:
        dx, dy = self.xs[-1] - self.xs[0], self.ys[-1] - self.ys[0]
        if math.hypot(dx, dy) < 0.3 * float(np.median(self.heights)):
            return ""
        if abs(dx) >= abs(dy):
            return "to the right" if dx > 0 else "to the left"
        return "down the view" if dy > 0 else "up the view"

    def region(self) -> str:
        x, y = float(np.mean(self.xs)), float(np.mean(self.ys))
        row = ("top", "middle", "bottom")[min(int(y * 3), 2)]
        col = ("left", "centre", "right")[min(int(x * 3), 2)]
        if row == "middle" and col == "centre":
            return "in the centre of the view"
        return f"in the {row} {col} of the view"


def track_objects(
    frames: Sequence[Sequence[Detection]],
    times: Sequence[float],
    min_confidence: float = MIN_CONFIDENCE,
) -> list[Track]:
    """Link detections into tracks: each detection joins the nearest live track of its class
    within `MAX_JUMP_HEIGHTS` box heights, else starts one (greedy, nearest pairs first)."""
    tracks: list[Track] = []
    for t, found in zip(times, frames, strict=True):
        live = [k for k in tracks if t - k.times[-1] <= MAX_GAP_SECONDS and k.times[-1] < t]
        boxes = [d for d in found if d.confidence >= min_confidence]
        pairs = []
        for i, det in enumerate(boxes):
            cx, cy = (det.box[0] + det.box[2]) / 2, (det.box[1] + det.box[3]) / 2
            height = max(det.box[3] - det.box[1], 1e-3)
            for j, track in enumerate(live):
                if track.class_name != det.class_name:
                    continue
                jump = math.hypot(cx - track.xs[-1], cy - track.ys[-1])
                if jump <= MAX_JUMP_HEIGHTS * max(height, track.heights[-1]):
                    pairs.append((jump, i, j))
        used_boxes, used_tracks = set(), set()
        for _, i, j in sorted(pairs):
            if i in used_boxes or j in used_tracks:
                continue
            live[j].add(t, boxes[i].box)
            used_boxes.add(i)
            used_tracks.add(j)
        for i, det in enumerate(boxes):
            if i not in used_boxes:
                track = Track(det.class_name)
                track.add(t, det.box)
                tracks.append(track)
    return tracks


def recent_speed(track: Track, point: int, seconds: float) -> float | None:
    """The speed at the track's `point`-th detection over its detections of the last `seconds`
    (up to and including that one); None unless they are `measurable` (enough points, long
    enough): a new or flickering track has no speed."""
    now = track.times[point]
    first = point
    while first > 0 and track.times[first - 1] >= now - seconds - _TIME_SLACK:
        first -= 1
    part = slice(first, point + 1)
    recent = Track(
        track.class_name,
        track.times[part],
        track.xs[part],
        track.ys[part],
        track.heights[part],
    )
    return recent.speed() if recent.measurable else None


def box_speeds(
    frames: Sequence[Sequence[Detection]],
    times: Sequence[float],
    seconds: float,
    min_confidence: float = MIN_CONFIDENCE,
) -> list[list[tuple[str, float]]]:
    """Per frame, (class, speed over the last `seconds`) of each of its detections whose track
    has a `recent_speed` there (the others are left out). `times` must rise strictly: a track
    takes one detection per time, so a time names its frame."""
    frame_at = {t: i for i, t in enumerate(times)}
    out: list[list[tuple[str, float]]] = [[] for _ in frames]
    for track in track_objects(frames, times, min_confidence):
        for point, t in enumerate(track.times):
            speed = recent_speed(track, point, seconds)
            if speed is not None:
                out[frame_at[t]].append((track.class_name, speed))
    return out
