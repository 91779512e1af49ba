"""Scene descriptions: what the detector saw in a window, in sentences, as stage 2's captions when
no captioner is installed (none ships in a reachable package; issue 19).

A window's detections are linked into tracks (`vad.tracks`, the tracker the object model also
uses: greedy nearest box of the same class, frame to frame); each track is described by its
class, how fast it moves against what this camera normally shows, its direction, where in the
view it is and for how long, e.g. "a vehicle moves to the left in the bottom centre of the view
at 2.5x the usual speed of people here, for 1.8 s". The usual speeds and counts come from the
camera's normal footage (`fit_scene_norms`); without them speeds are said in body heights per
second.

Pure: detections in (`vad.encoders.detectors.Detection`, shared vocabulary labels), sentences
out; the worker and `vad eval stage2` run the detector.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vad.object_vocabulary import BICYCLE, PERSON, VEHICLE
from vad.stage2.backends import BackendUnavailable
from vad.tracks import MIN_CONFIDENCE, Track, track_objects

if TYPE_CHECKING:
    from vad.encoders.detectors import Detection

SCENE_PREFIX = "scene:"
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
