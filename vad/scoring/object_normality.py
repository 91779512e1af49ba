"""Object-level normality: which objects this camera shows, where, at what size and how many.

The pixel model (`vad/scoring/normality`) sees motion and outlines but cannot name things: a car
parked on the lawn or a horse on a walkway is, to it, a slow blob. The detector (issue 5) names
them. This model is fitted per camera on the detections of the same normal footage
`vad camera learn` fits the pixel model on, and turns a frame's detections into a score in [0, 1]:

* an object of a class the camera never showed in training scores `unseen_class_score`
  (a configured constant, not a calibrated value: "never seen" has no training distribution);
* otherwise the frame's raw novelty is the worst of
  - each box's distance (centre and size, in per-class standard deviations) to the nearest
    training box of its class, in units of the class's held-out reference distance, and
  - each class's count divided by its reference count (the `reference_quantile` of training
    frames), so a crowd where a handful of people is usual stands out;
  - with `speed` on, each box's speed (`vad.tracks`: its track over the key frames' detections,
    in its own box heights per second over the last `speed_seconds`) over its class's reference
    speed (the `reference_quantile` of the training boxes' speeds), so a person running where
    people walk stands out;
  and is calibrated like the pixel model: the tail probability under held-out training frames
  (each fold scored against a memory of the others), squashed so the reference quantile maps to
  0.5 (`TailCalibrator`).

Detections under `min_confidence` are ignored: a single weak "car" must not open an incident
(tracks may use weaker ones, `track_confidence`, to survive the detector's misses).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vad.scoring.normality.calibration import TailCalibrator, contiguous_folds
from vad.tracks import box_speeds

if TYPE_CHECKING:  # the detector module loads onnxruntime; settings must stay light to import
    from vad.encoders.detectors import Detection

FORMAT_VERSION = 1
OBJECTS_JSON = "objects.json"
_DIMS = ("cx", "cy", "w", "h")
_MIN_STD = 0.01  # frame fractions: a class seen in one place still gets a finite scale
_MIN_SPEEDS = 50  # training speeds a class needs for a reference speed (fewer: no speed novelty)


class ObjectNormalityConfig(BaseModel):
    """Per-camera object model fitted at `vad camera learn` when a detector is installed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True,
        description=(
            "Fit an object model with the camera's normality model when the detector is installed "
            "(`vad models ensure`), and fuse its score into the frame score."
        ),
    )
    min_confidence: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Detections under this confidence are ignored by the object model.",
    )
    ignore_classes: tuple[str, ...] = Field(
        (),
        description=(
            "Detector labels (shared vocabulary, vad/object_vocabulary.py) the object model "
            "never looks at (e.g. 'animal')."
        ),
    )
    unseen_class_score: float = Field(
        0.9,
        ge=0,
        le=1,
        description=(
            "Score of a frame holding a confident object of a class the camera never showed in "
            "its training footage (a car on a pedestrian walkway)."
        ),
    )
    folds: int = Field(
        4, ge=2, le=16, description="Held-out folds of training frames used for calibration."
    )
    reference_quantile: float = Field(
        0.99,
        gt=0.5,
        lt=1,
        description="Held-out training quantile of the raw novelty that calibrates to 0.5.",
    )
    tail_quantile: float = Field(
        0.9,
        gt=0.5,
        lt=1,
        description="Above this quantile the held-out distribution is an exponential tail.",
    )
    memory_per_class: int = Field(
        4096, ge=16, description="Training boxes kept per class (evenly subsampled beyond this)."
    )
    detect_every: int = Field(
        4,
        ge=1,
        le=100,
        description=(
            "Run the detector at least every n-th frame (and on every frame whose view changed, "
            "`redetect_change`); the frames between reuse the last detected frame's objects. "
            "Learning and scoring both do it (vad/encoders/detectors/keyframes.py). 1 = every "
            "frame."
        ),
    )
    speed: bool = Field(
        False,
        description=(
            "Score each box's speed (its track's, in its own box heights per second) against its "
            "class's usual speeds in the training footage (track round, 2026-12-07)."
        ),
    )
    track_confidence: float = Field(
        0.4,
        ge=0,
        le=1,
        description=(
            "Detections at or over this confidence are linked into tracks for the speeds (the "
            "class / place / count novelty keeps `min_confidence`)."
        ),
    )
    speed_seconds: float = Field(
        1.0,
        gt=0,
        le=10,
        description="A box's speed is its track's over this many seconds up to it.",
    )
    redetect_change: float = Field(
        0.02,
        gt=0,
        le=1,
        description=(
            "Share of the view whose grey level changed since the last detected frame that makes "
            "a frame detected at once (something appeared or moved a lot)."
        ),
    )


@dataclass(frozen=True, slots=True)
class ObjectVerdict:
    """A frame's object score and the sentence saying what decided it (None: nothing unusual)."""

    score: float
    reason: str | None


@dataclass
class ClassMemory:
    """Training boxes of one class (N, 4: cx, cy, w, h) with their scale and references."""

    boxes: np.ndarray
    scale: np.ndarray
    reference_distance: float
    reference_count: float

    def distances(self, boxes: np.ndarray) -> np.ndarray:
        """Standardised distance of each box to its nearest training box."""
        diff = (boxes[:, None, :] - self.boxes[None, :, :]) / self.scale
        return np.sqrt((diff**2).sum(axis=2)).min(axis=1)


def box_descriptors(detections: Sequence[Detection]) -> np.ndarray:
    """(N, 4) centre and size in frame fractions: resolution-free, as `Detection` boxes are."""
    if not detections:
        return np.zeros((0, len(_DIMS)))
    b = np.array([d.box for d in detections], np.float64)
    return np.stack(
        [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1
    )


class ObjectNormalityModel:
    """Fitted object model of one camera; `score` is pure given the model."""

    def __init__(
        self,
        config: ObjectNormalityConfig,
        detector: str,
        classes: dict[str, ClassMemory],
        calibrator: TailCalibrator,
        metadata: dict | None = None,
        reference_speeds: dict[str, float] | None = None,
    ) -> None:
        self.config = config
        self.detector = detector
        self.classes = classes
        self.calibrator = calibrator
        self.metadata = metadata or {}
        # per class, the speed (box heights / s) that is `reference_quantile` of training boxes'
        self.reference_speeds = reference_speeds or {}

    def score(
        self, frames: Sequence[Sequence[Detection]], times: Sequence[float] | None = None
    ) -> list[ObjectVerdict]:
        """One verdict per frame's detections (the window is calibrated in one call). Frames that
        share one detection list (the frames between key frames get their key frame's list,
        `detect_key_frames`) are measured once (`_raw_novelties`). `times`: each frame's media
        time in seconds (frame index / analysis rate, as at fitting); without them, or with
        `speed` off, no box has a speed."""
        found = [relevant(f, self.config) for f in frames]
        raws = _raw_novelties(frames, found, self.classes)
        if self.config.speed and self.reference_speeds and times is not None:
            speeds = frame_speeds(frames, times, self.config)
            raws = [
                _worse(raw, _speed_novelty(moving, self.reference_speeds))
                for raw, moving in zip(raws, speeds, strict=True)
            ]
        scores = self.calibrator(np.array([raw for raw, _ in raws], np.float64))
        return [
            self._verdict(f, float(score), what)
            for f, score, (_, what) in zip(found, scores, raws, strict=True)
        ]

    def extend(
        self, clips: Sequence[Sequence[np.ndarray]], detector, recalibrate: bool = True
    ) -> ObjectNormalityModel:
        """A new model that also knows `clips` (BGR, e.g. a false alarm's frames) as normal,
        detected by the `detector` this model was fitted with, on key frames as it was fitted;
        see `extend_detections`."""
        if detector.name != self.detector:
            raise ValueError(f"object model of {self.detector!r} cannot learn {detector.name!r}")
        from vad.encoders.detectors.keyframes import detect_key_frames

        every, change = self.config.detect_every, self.config.redetect_change
        frames = [
            d
            for clip in clips
            if len(clip)
            for d in detect_key_frames(detector, list(clip), every, change)
        ]
        if not frames:
            raise ValueError("no frames to learn from")
        return self.extend_detections(frames, recalibrate)

    def extend_detections(
        self, frames: Sequence[Sequence[Detection]], recalibrate: bool = True
    ) -> ObjectNormalityModel:
        """New normal frames' detections: their boxes join each class's memory (a class never
        seen gets a memory of its own, so it is no longer `unseen`), usual counts only rise, and,
        if `recalibrate`, the calibrator is refitted with their held-out novelty (contiguous
        folds, each against the memories plus the other folds); else it is kept. The reference
        speeds are kept (the frames come without times: their speeds are not measured)."""
        started = time.perf_counter()
        found = [relevant(f, self.config) for f in frames]
        seen = int(self.metadata.get("frames_seen", 0))
        metadata = {
            **self.metadata,
            "frames_seen": seen + len(found),
            "frames_added": len(found),
            "extended_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "extend_seconds": round(time.perf_counter() - started, 3),
        }
        calibrator = (
            self.calibrator.merged(self._held_out(found), seen) if recalibrate else self.calibrator
        )
        classes = self._classes_with(found)
        metadata["boxes"] = {name: int(len(m.boxes)) for name, m in classes.items()}
        return ObjectNormalityModel(
            self.config, self.detector, classes, calibrator, metadata, self.reference_speeds
        )

    def _held_out(self, found: list[list[Detection]]) -> np.ndarray:
        """The new frames' raw novelty, each contiguous fold against the memories plus the
        other folds."""
        folds = max(1, min(self.config.folds, len(found)))
        fold = contiguous_folds(len(found), folds)
        held = [
            _raw_novelty(
                found[i], self._classes_with([found[j] for j in np.flatnonzero(fold != g)])
            )[0]
            for g in range(folds)
            for i in np.flatnonzero(fold == g)
        ]
        return np.asarray(held, np.float64)

    def _classes_with(self, frames: Sequence[list[Detection]]) -> dict[str, ClassMemory]:
        """The class memories plus the frames' boxes (scales and reference distances kept;
        a new class gets its own scale and the reference of a class seen in one fold)."""
        out = dict(self.classes)
        if not frames:
            return out
        counts = _reference_counts(list(frames), self.config.reference_quantile)
        limit = self.config.memory_per_class
        for name, count in counts.items():
            boxes = _boxes_of(frames, name)
            old = self.classes.get(name)
            if old is None:
                out[name] = ClassMemory(_subsample(boxes, limit), _scale(boxes), 1.0, count)
                continue
            out[name] = ClassMemory(
                np.concatenate([old.boxes, _subsample(boxes, max(1, limit // 4))]),
                old.scale,
                old.reference_distance,
                max(old.reference_count, count),
            )
        return out

    def _verdict(self, found: list[Detection], score: float, what: str | None) -> ObjectVerdict:
        unseen = [d for d in found if d.class_name not in self.classes]
        if unseen and self.config.unseen_class_score >= score:
            best = max(unseen, key=lambda d: d.confidence)
            return ObjectVerdict(
                self.config.unseen_class_score,
                f"{best.class_name} (confidence {best.confidence:.2f}): "
                "a class this camera never showed in its training footage",
            )
        return ObjectVerdict(score, what if score >= 0.5 else None)

    # ------------------------------------------------------------------------------ persistence

    def save(self, directory: Path) -> Path:
        path = Path(directory) / OBJECTS_JSON
        doc = {
            "format_version": FORMAT_VERSION,
            "kind": "vad.objects",
            "detector": self.detector,
            "config": self.config.model_dump(mode="json"),
            "classes": {
                name: {
                    "boxes": m.boxes.tolist(),
                    "scale": m.scale.tolist(),
                    "reference_distance": m.reference_distance,
                    "reference_count": m.reference_count,
                }
                for name, m in self.classes.items()
            },
            "calibration": self.calibrator.to_dict(),
            "reference_speeds": self.reference_speeds,
            "metadata": self.metadata,
        }
        path.write_text(json.dumps(doc))
        return path

    @classmethod
    def load(cls, directory: Path) -> ObjectNormalityModel:
        path = Path(directory) / OBJECTS_JSON
        doc = json.loads(path.read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"object model format {doc.get('format_version')!r} in {path} is not the supported "
                f"format {FORMAT_VERSION}; refit it (vad camera learn) with this version"
            )
        classes = {
            name: ClassMemory(
                np.asarray(m["boxes"], np.float64).reshape(-1, len(_DIMS)),
                np.asarray(m["scale"], np.float64),
                float(m["reference_distance"]),
                float(m["reference_count"]),
            )
            for name, m in doc["classes"].items()
        }
        return cls(
            ObjectNormalityConfig.model_validate(doc["config"]),
            doc["detector"],
            classes,
            TailCalibrator.from_dict(doc["calibration"]),
            doc.get("metadata", {}),
            # absent from models saved before the track round: no speed novelty, as they scored
            {name: float(v) for name, v in doc.get("reference_speeds", {}).items()},
        )

    def summary(self) -> str:
        """E.g. 'person 1,204 boxes (usually <= 6 a frame), bicycle 3 boxes'."""
        if not self.classes:
            return "no confident objects in the training footage: any detected object is unusual"
        parts = [
            f"{name} {len(m.boxes):,} boxes (usually <= {m.reference_count:g} a frame)"
            for name, m in sorted(self.classes.items(), key=lambda kv: -len(kv[1].boxes))
        ]
        return ", ".join(parts)


def relevant(detections: Sequence[Detection], config: ObjectNormalityConfig) -> list[Detection]:
    """The detections the object model looks at: confident ones of classes not ignored."""
    ignored = set(config.ignore_classes)
    return [
        d
        for d in detections
        if d.confidence >= config.min_confidence and d.class_name not in ignored
    ]


def _raw_novelties(
    frames: Sequence[Sequence[Detection]],
    found: Sequence[list[Detection]],
    classes: dict[str, ClassMemory],
) -> list[tuple[float, str | None]]:
    """`_raw_novelty` of each frame's `found` (its `relevant` detections of `frames`), computed
    once per detection list object of `frames` (speed round 3: with the detector on every 4th
    frame, 3 frames in 4 repeat their key frame's list, and the nearest training box of each
    detection was 0.7 ms a frame on Ped2). The same list is the same detections, so the same
    result; equal lists that are distinct objects are measured apart, as before."""
    measured: dict[int, tuple[float, str | None]] = {}
    out = []
    for frame, relevant_found in zip(frames, found, strict=True):
        key = id(frame)  # `frames` holds every list alive for the call: ids are not reused
        if key not in measured:
            measured[key] = _raw_novelty(relevant_found, classes)
        out.append(measured[key])
    return out


def _raw_novelty(
    found: Sequence[Detection], classes: dict[str, ClassMemory]
) -> tuple[float, str | None]:
    worst, what = 0.0, None
    by_class: dict[str, list[Detection]] = {}
    for d in found:
        if d.class_name in classes:
            by_class.setdefault(d.class_name, []).append(d)
    for name, dets in by_class.items():
        memory = classes[name]
        crowd = len(dets) / memory.reference_count
        if crowd > worst:
            worst = crowd
            usual = f"{memory.reference_count:g}"
            what = f"{len(dets)} x {name} where this camera usually shows <= {usual}"
        ratios = memory.distances(box_descriptors(dets)) / memory.reference_distance
        k = int(np.argmax(ratios))
        if ratios[k] > worst:
            worst = float(ratios[k])
            cx, cy, w, h = box_descriptors([dets[k]])[0]
            what = (
                f"{name} at ({cx:.2f}, {cy:.2f}), {w:.2f} x {h:.2f} of the frame: unlike every "
                f"{name} seen here ({ratios[k]:.1f}x the usual distance)"
            )
    return worst, what


def tracked(detections: Sequence[Detection], config: ObjectNormalityConfig) -> list[Detection]:
    """The detections linked into tracks for the speeds: `relevant` at `track_confidence`."""
    ignored = set(config.ignore_classes)
    return [
        d
        for d in detections
        if d.confidence >= config.track_confidence and d.class_name not in ignored
    ]


def key_frame_indices(frames: Sequence[Sequence[Detection]]) -> list[int]:
    """The frames whose detection list is not the previous frame's list object: the key frames
    (`detect_key_frames` gives the frames between them their key frame's list, which must add
    nothing to a track: the same box again would read as standing still)."""
    return [i for i, f in enumerate(frames) if i == 0 or f is not frames[i - 1]]


def key_frame_speeds(
    frames: Sequence[Sequence[Detection]], times: Sequence[float], config: ObjectNormalityConfig
) -> tuple[list[int], list[list[tuple[str, float]]]]:
    """(key frame indices, per key frame the (class, speed) of its boxes that have a speed)."""
    keys = key_frame_indices(frames)
    speeds = box_speeds(
        [tracked(frames[k], config) for k in keys],
        [float(times[k]) for k in keys],
        config.speed_seconds,
        config.track_confidence,
    )
    return keys, speeds


def frame_speeds(
    frames: Sequence[Sequence[Detection]], times: Sequence[float], config: ObjectNormalityConfig
) -> list[list[tuple[str, float]]]:
    """Per frame, the (class, speed) of its boxes with a speed: its key frame's."""
    keys, speeds = key_frame_speeds(frames, times, config)
    return _spread(keys, speeds, len(frames))


def _spread(keys: list[int], per_key: list, frames: int) -> list:
    """Each of `frames` frames gets the item of the last key frame at or before it."""
    out, j = [], -1
    for i in range(frames):
        if j + 1 < len(keys) and keys[j + 1] == i:
            j += 1
        out.append(per_key[j])
    return out


def _speed_novelty(
    moving: Sequence[tuple[str, float]], references: dict[str, float]
) -> tuple[float, str | None]:
    """The fastest box against its class's reference speed (a class without one: nothing)."""
    worst, what = 0.0, None
    for name, speed in moving:
        reference = references.get(name)
        if reference is None:
            continue
        ratio = speed / reference
        if ratio > worst:
            worst = ratio
            what = f"{name} moving {speed:.1f} body heights/s, {ratio:.1f}x the fastest usual here"
    return worst, what


def _worse(a: tuple[float, str | None], b: tuple[float, str | None]) -> tuple[float, str | None]:
    return b if b[0] > a[0] else a


# ------------------------------------------------------------------------------------- fitting


def fit_object_model(
    clips: Sequence[Sequence[Sequence[Detection]]],
    detector: str,
    config: ObjectNormalityConfig | None = None,
    fps: float | None = None,
) -> ObjectNormalityModel:
    """Fit on the detections of normal footage: clips -> frames -> that frame's detections.

    Each fold of frames is scored against memories built from the other folds (with the final
    per-class scales): their box distances set each class's reference distance, then their raw
    novelty (in those references' units) is what the calibrator is fitted on. With `speed` on
    and the analysis rate `fps` given, each fold's boxes are tracked within their own clips
    (frame times = index / `fps`): their speeds set each class's reference speed, and the
    frames' speed novelty joins their raw novelty."""
    config = config or ObjectNormalityConfig()
    frames = [relevant(f, config) for clip in clips for f in clip]
    if not frames:
        raise ValueError("no training frames for the object model")
    folds = contiguous_folds(len(frames), config.folds)
    counts = _reference_counts(frames, config.reference_quantile)
    boxes = {name: _boxes_of(frames, name) for name in counts}
    scales = {name: _scale(b) for name, b in boxes.items()}
    inside = [[frames[i] for i in np.flatnonzero(folds == g)] for g in range(config.folds)]
    held_memories = [
        _memories(
            [frames[i] for i in np.flatnonzero(folds != g)], scales, counts, config.memory_per_class
        )
        for g in range(config.folds)
    ]
    references = _reference_distances(inside, held_memories, config.reference_quantile)
    for memories in held_memories:
        for name, memory in memories.items():
            memory.reference_distance = references[name]
    held_raw = [
        _raw_novelty(frame, memories)[0]
        for fold, memories in zip(inside, held_memories, strict=True)
        for frame in fold
    ]
    reference_speeds: dict[str, float] = {}
    speed_note: dict = {}
    if config.speed and fps:
        keyed = _fold_speeds(clips, folds, fps, config)
        reference_speeds, speed_note = _reference_speeds(keyed, config)
        per_frame = [speeds for key in keyed for speeds in key.per_frame()]
        held_raw = [
            max(raw, _speed_novelty(moving, reference_speeds)[0])
            for raw, moving in zip(held_raw, per_frame, strict=True)
        ]
    calibrator = TailCalibrator.fit(
        np.asarray(held_raw), config.tail_quantile, config.reference_quantile
    )
    classes = {
        name: ClassMemory(
            _subsample(boxes[name], config.memory_per_class),
            scales[name],
            references[name],
            counts[name],
        )
        for name in counts
    }
    metadata = {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "frames_seen": len(frames),
        "boxes": {name: int(len(m.boxes)) for name, m in classes.items()},
    }
    if speed_note:
        metadata["speeds"] = speed_note
    return ObjectNormalityModel(config, detector, classes, calibrator, metadata, reference_speeds)


@dataclass(frozen=True)
class _SegmentSpeeds:
    """One clip's frames inside one fold: how many, their key frames' indices (in the
    segment), the boxes each key frame tracked and the (class, speed) of those with a speed."""

    frames: int
    keys: list[int]
    tracked: list[int]
    speeds: list[list[tuple[str, float]]]

    def per_frame(self) -> list[list[tuple[str, float]]]:
        return _spread(self.keys, self.speeds, self.frames)


def _fold_speeds(
    clips: Sequence[Sequence[Sequence[Detection]]],
    folds: np.ndarray,
    fps: float,
    config: ObjectNormalityConfig,
) -> list[_SegmentSpeeds]:
    """The training boxes' speeds, each contiguous fold's tracked within their own clips (a
    track never crosses a clip's end or a fold's edge), in the order of the training frames."""
    out, start = [], 0
    for clip in clips:
        clip = list(clip)
        in_clip = folds[start : start + len(clip)]
        for g in dict.fromkeys(in_clip.tolist()):
            where = np.flatnonzero(in_clip == g)
            segment = clip[where[0] : where[-1] + 1]
            times = [i / fps for i in range(len(segment))]
            keys, speeds = key_frame_speeds(segment, times, config)
            counted = [len(tracked(segment[k], config)) for k in keys]
            out.append(_SegmentSpeeds(len(segment), keys, counted, speeds))
        start += len(clip)
    return out


def _reference_speeds(
    segments: list[_SegmentSpeeds], config: ObjectNormalityConfig
) -> tuple[dict[str, float], dict]:
    """Per class with >= `_MIN_SPEEDS` key-frame box speeds, their `reference_quantile`
    (floored at 0.05 box heights / s: a class that never moved); and a note of what was seen."""
    speeds: dict[str, list[float]] = {}
    for segment in segments:
        for moving in segment.speeds:
            for name, speed in moving:
                speeds.setdefault(name, []).append(speed)
    boxes = sum(sum(s.tracked) for s in segments)
    measured = sum(len(v) for v in speeds.values())
    references = {
        name: max(float(np.quantile(v, config.reference_quantile)), 0.05)
        for name, v in speeds.items()
        if len(v) >= _MIN_SPEEDS
    }
    note = {
        "share_with_speed": round(measured / boxes, 4) if boxes else 0.0,
        "classes": {
            name: {
                "speeds": len(v),
                "median": round(float(np.median(v)), 3),
                "q99": round(float(np.quantile(v, 0.99)), 3),
            }
            for name, v in speeds.items()
        },
    }
    return references, note


def _reference_counts(frames: list[list[Detection]], quantile: float) -> dict[str, float]:
    names = sorted({d.class_name for f in frames for d in f})
    counts = {
        name: np.array([sum(d.class_name == name for d in f) for f in frames]) for name in names
    }
    return {name: max(1.0, float(np.quantile(c[c > 0], quantile))) for name, c in counts.items()}


def _boxes_of(frames: Sequence[list[Detection]], name: str) -> np.ndarray:
    return box_descriptors([d for f in frames for d in f if d.class_name == name])


def _subsample(boxes: np.ndarray, limit: int) -> np.ndarray:
    if len(boxes) <= limit:
        return boxes
    return boxes[np.linspace(0, len(boxes) - 1, limit).astype(int)]


def _scale(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes.std(axis=0) if len(boxes) > 1 else np.zeros(len(_DIMS)), _MIN_STD)


def _memories(
    frames: list[list[Detection]],
    scales: dict[str, np.ndarray],
    counts: dict[str, float],
    limit: int,
) -> dict[str, ClassMemory]:
    """Memories of the classes present in `frames` (reference distance set later; a class absent
    here is left out, so for calibration it is not scored, as the final model knows it)."""
    out = {}
    for name, scale in scales.items():
        boxes = _boxes_of(frames, name)
        if len(boxes):
            out[name] = ClassMemory(_subsample(boxes, limit), scale, 1.0, counts[name])
    return out


def _reference_distances(
    inside: list[list[list[Detection]]],
    held_memories: list[dict[str, ClassMemory]],
    quantile: float,
) -> dict[str, float]:
    """Per class: `quantile` of held-out box distances to the other folds' boxes (1.0 for a
    class never seen in two folds), floored at 0.05 std (a class always seen in one place)."""
    held: dict[str, list[float]] = {}
    for fold, memories in zip(inside, held_memories, strict=True):
        for name, memory in memories.items():
            boxes = _boxes_of(fold, name)
            if len(boxes):
                held.setdefault(name, []).extend(memory.distances(boxes).tolist())
    names = {name for memories in held_memories for name in memories} | set(held)
    return {
        name: max(float(np.quantile(held[name], quantile)) if name in held else 1.0, 0.05)
        for name in names
    }
