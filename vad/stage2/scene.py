"""Scene descriptions: what the detector saw in a window, in sentences, as stage 2's captions when
no captioner is installed (none ships in a reachable package; issue 19).

A window's detections are linked into tracks (greedy nearest box of the same class, frame to
frame); each track is described by its class, how fast it moves against what this camera
normally shows, its direction, where in the view it is and for how long, e.g. "a vehicle moves to
the left in the bottom centre of the view at 2.5x the usual speed of people here, for 1.8 s".
The usual speeds and counts come from the camera's normal footage (`fit_scene_norms`); without
them speeds are said in body heights per second. Speeds are measured in the object's own box
heights per second, which cancels most of the perspective: a person far away moves fewer pixels.

Pure: detections in (`vad.encoders.detectors.Detection`, shared vocabulary labels), sentences
out; the worker and `vad eval stage2` run the detector.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vad.object_vocabulary import BICYCLE, PERSON, VEHICLE
from vad.stage2.backends import BackendUnavailable

if TYPE_CHECKING:
    from vad.encoders.detectors import Detection

SCENE_PREFIX = "scene:"
MIN_CONFIDENCE = 0.4  # as the object model: a weak detection is not worth a sentence
MAX_GAP_SECONDS = 0.6  # a track survives this long without a detection
MAX_JUMP_HEIGHTS = 1.5  # a match moves at most this many of its box heights between detections
MIN_TRACK_POINTS = 3  # fewer detections give no speed or direction
MIN_TRACK_SECONDS = 0.8  # shorter tracks (flicker, identity switches) give no speed either
# Frame times are sums and differences of floats (1.2 - 0.4 = 0.7999999999999999 s): a track
# spanning exactly the minimum must not depend on where its window started
_TIME_SLACK = 1e-6
STILL_HEIGHTS_PER_SECOND = 0.15
UNUSUAL_RATIO = 1.6  # this many times the usual speed (or 1/this) earns its own sentence
# How a measured speed is written (`_speed_phrase`); `states_a_speed` looks for these words
_RELATIVE_SPEED = "x the usual speed of"
_ABSOLUTE_SPEED = "body heights per second"
_PLURAL = {PERSON: "people"}
_MOVING = {PERSON: "walk", BICYCLE: "ride", VEHICLE: "drive"}


class SceneSource:
    """Stands in for the captioner when the captions are scene descriptions: the worker builds
    them from the window's detections (`describe_window`), not from images."""

    def __init__(self, name: str) -> None:
        self.name = name

    def caption(self, images, prompt: str, max_tokens: int) -> list[str]:
        raise BackendUnavailable(
            f"{self.name} describes windows from detections, not images: pass "
            "WindowInput.scene (vad.stage2.scene.describe_window)"
        )


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


SCENE_JSON = "scene.json"  # the norms, next to the camera's other models (`vad camera learn`)


@dataclass(frozen=True)
class SceneNorms:
    """What a camera's normal footage shows: per class the median speed of its tracks (box
    heights per second) and the usual number in view (the 95th percentile over frames)."""

    speeds: dict[str, float]
    counts: dict[str, float]

    def to_dict(self) -> dict:
        return {"speeds": self.speeds, "counts": self.counts}

    @classmethod
    def from_dict(cls, doc: dict) -> SceneNorms:
        return cls(
            {k: float(v) for k, v in doc.get("speeds", {}).items()},
            {k: float(v) for k, v in doc.get("counts", {}).items()},
        )

    def save(self, directory: Path) -> Path:
        path = Path(directory) / SCENE_JSON
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, directory: Path | None) -> SceneNorms | None:
        """The norms saved in a camera's model folder, None when it has none (learned without
        a detector) or they are unreadable (descriptions then give absolute speeds)."""
        path = Path(directory) / SCENE_JSON if directory is not None else None
        if path is None or not path.is_file():
            return None
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, AttributeError):
            return None

    def usual_speed(self, class_name: str) -> tuple[str, float] | None:
        """(class whose speed is the reference, its usual speed): the class's own, else that of
        the camera's most common class (a car on a walkway is compared with the people)."""
        if class_name in self.speeds:
            return class_name, self.speeds[class_name]
        if not self.counts:
            return None
        common = max(self.counts, key=lambda k: self.counts[k])
        return (common, self.speeds[common]) if common in self.speeds else None


def fit_scene_norms(
    clips: Iterable[tuple[Sequence[Sequence[Detection]], Sequence[float]]],
    min_confidence: float = MIN_CONFIDENCE,
) -> SceneNorms:
    """Norms from normal clips, each (detections per frame, frame times in seconds)."""
    speeds: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}
    for frames, times in clips:
        for track in track_objects(frames, times, min_confidence):
            if track.measurable:
                speeds.setdefault(track.class_name, []).append(track.speed())
        for found in frames:
            per_class = Counter(d.class_name for d in found if d.confidence >= min_confidence)
            for name in set(counts) | set(per_class):
                counts.setdefault(name, []).append(per_class.get(name, 0))
    return SceneNorms(
        {k: round(float(np.median(v)), 4) for k, v in speeds.items()},
        {k: round(float(np.percentile(v, 95)), 2) for k, v in counts.items()},
    )


def _plural(class_name: str) -> str:
    return _PLURAL.get(class_name, class_name + "s")


def _noun(class_name: str, n: int) -> str:
    if n == 1:
        return f"{'an' if class_name[0] in 'aeiou' else 'a'} {class_name}"
    return f"{n} {_plural(class_name)}"


def _verb(class_name: str, moving: bool, n: int) -> str:
    base = _MOVING.get(class_name, "move") if moving else "stand"
    if class_name != PERSON and not moving:
        base = "stay"
    return base if n > 1 else base + "s"


def _speed_phrase(track: Track, norms: SceneNorms | None) -> tuple[str, bool]:
    """(how fast, unusual?)"""
    speed = track.speed()
    reference = norms.usual_speed(track.class_name) if norms else None
    if reference is None or reference[1] <= 0:
        return f"at {speed:.1f} {_ABSOLUTE_SPEED}", False
    name, usual = reference
    ratio = speed / usual
    whose = _plural(name)
    unusual = ratio >= UNUSUAL_RATIO or ratio <= 1 / UNUSUAL_RATIO or name != track.class_name
    return f"at {ratio:.1f}{_RELATIVE_SPEED} {whose} here", unusual


def states_a_speed(lines: Iterable[str]) -> bool:
    """Whether a window's description gives some object's measured speed. It does only for
    objects moving unusually fast or slow (or of a class the camera has no usual speed for):
    walkers at the usual pace are counted ("5 people walk") and standers placed, without one.
    Stage 2 asks how fast something moves only then: asked about a quiet window, a small LLM
    invents a speed (or motion) for a stander."""
    return any(_RELATIVE_SPEED in line or _ABSOLUTE_SPEED in line for line in lines)


def _track_sentence(track: Track, norms: SceneNorms | None) -> tuple[str, bool]:
    speed, unusual = _speed_phrase(track, norms)
    moving = track.speed() >= STILL_HEIGHTS_PER_SECOND
    verb = _verb(track.class_name, moving, 1)
    if unusual and moving and track.class_name == PERSON:
        verb = "moves"  # "walks at 3x the usual speed" contradicts itself
    parts = [_noun(track.class_name, 1), verb]
    if moving:
        parts.append(track.direction())
    parts.append(track.region())
    if moving:
        parts.append(speed)
    text = " ".join(p for p in parts if p)
    return f"{text}, for {track.duration:.1f} s", unusual


def describe_window(
    frames: Sequence[Sequence[Detection]],
    times: Sequence[float],
    norms: SceneNorms | None = None,
    max_sentences: int = 6,
) -> list[tuple[float, str]]:
    """(seconds from the window start, sentence), first the objects that stand out (a class the
    camera never showed, then by speed, fastest first: a small LLM's summary follows the first
    lines), then one line for those standing still with their places, then a head count of the
    rest.

    Still objects of a class the camera shows share one line ("3 people stand in the centre,
    the middle left and the bottom right of the view") instead of a sentence each: standing is
    "unusually slow" against the usual speed, but on a walkway it is ordinary, and every line is
    read by the LLM (about 160 prompt tokens per CPU second): a sentence per stander made them
    half of a window's description and led the summary away from the mover."""
    if not times:
        return []
    start = times[0]
    tracks = [k for k in track_objects(frames, times) if k.measurable]
    seen = set(norms.counts) if norms else set()
    notable: list[tuple[tuple[int, float], float, str]] = []  # (rank, start, sentence)
    still: dict[str, list[Track]] = {}
    ordinary: Counter[str] = Counter()
    for track in sorted(tracks, key=lambda k: k.times[0]):
        moving = track.speed() >= STILL_HEIGHTS_PER_SECOND
        sentence, unusual = _track_sentence(track, norms)
        rank = (int(track.class_name in seen), -track.speed())  # never-seen first, then fastest
        if norms is not None and track.class_name not in seen:
            sentence = f"{sentence} ({_never(track.class_name)})"
            notable.append((rank, track.times[0] - start, sentence))
        elif not moving and (norms is not None or track.class_name == PERSON):
            still.setdefault(track.class_name, []).append(track)
        elif unusual or norms is None and track.class_name != PERSON:
            notable.append((rank, track.times[0] - start, sentence))
        else:
            ordinary[track.class_name] += 1
    lines = [(t, sentence) for _, t, sentence in sorted(notable)[: max_sentences - 1]]
    lines += [(0.0, _still_sentence(c, found)) for c, found in sorted(still.items())]
    counts = [f"{_noun(c, n)} {_verb(c, True, n)}" for c, n in sorted(ordinary.items())]
    crowd = _crowd(frames, norms)
    if counts or crowd:
        lines.append((0.0, "; ".join(counts + crowd)))
    return lines or [(0.0, "no person or object is detected")]


def _never(class_name: str) -> str:
    return f"this camera never showed {_plural(class_name)}"


def _still_sentence(class_name: str, tracks: list[Track]) -> str:
    """One line for the still objects of a class, with their places in the view."""
    places = list(dict.fromkeys(k.region().removeprefix("in ") for k in tracks))
    where = places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]
    if len(places) > 1:  # "the centre, the middle left and the bottom right of the view"
        where = where.replace(" of the view", "") + " of the view"
    return f"{_noun(class_name, len(tracks))} {_verb(class_name, False, len(tracks))} in {where}"


def _crowd(frames: Sequence[Sequence[Detection]], norms: SceneNorms | None) -> list[str]:
    """A note when a class is in view in greater numbers than the camera usually shows."""
    if norms is None:
        return []
    peak = Counter()
    for found in frames:
        here = Counter(d.class_name for d in found if d.confidence >= MIN_CONFIDENCE)
        for name, n in here.items():
            peak[name] = max(peak[name], n)
    return [
        f"{n} {_plural(c)} in view, usually up to {norms.counts[c]:g}"
        for c, n in sorted(peak.items())
        if c in norms.counts and n > max(norms.counts[c] * UNUSUAL_RATIO, norms.counts[c] + 2)
    ]
