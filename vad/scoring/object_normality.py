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
  and is calibrated like the pixel model: the tail probability under held-out training frames
  (each fold scored against a memory of the others), squashed so the reference quantile maps to
  0.5 (`TailCalibrator`).

Detections under `min_confidence` are ignored: a single weak "car" must not open an incident.
Box motion is not used (it needs tracking across frames; the pixel model covers speed).
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

if TYPE_CHECKING:  # the detector module loads onnxruntime; settings must stay light to import
    from vad.encoders.detectors import Detection

FORMAT_VERSION = 1
OBJECTS_JSON = "objects.json"
_DIMS = ("cx", "cy", "w", "h")
_MIN_STD = 0.01  # frame fractions: a class seen in one place still gets a finite scale


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
    ) -> None:
        self.config = config
        self.detector = detector
        self.classes = classes
        self.calibrator = calibrator
        self.metadata = metadata or {}

    def score(self, frames: Sequence[Sequence[Detection]]) -> list[ObjectVerdict]:
        """One verdict per frame's detections (the window is calibrated in one call). Frames that
        share one detection list (the frames between key frames get their key frame's list,
        `detect_key_frames`) are measured once (`_raw_novelties`)."""
        found = [relevant(f, self.config) for f in frames]
        raws = _raw_novelties(frames, found, self.classes)
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
        folds, each against the memories plus the other folds); else it is kept."""
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
        return ObjectNormalityModel(self.config, self.detector, classes, calibrator, metadata)

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


# ------------------------------------------------------------------------------------- fitting


def fit_object_model(
    clips: Sequence[Sequence[Sequence[Detection]]],
    detector: str,
    config: ObjectNormalityConfig | None = None,
) -> ObjectNormalityModel:
    """Fit on the detections of normal footage: clips -> frames -> that frame's detections.

    Each fold of frames is scored against memories built from the other folds (with the final
    per-class scales): their box distances set each class's reference distance, then their raw
    novelty (in those references' units) is what the calibrator is fitted on."""
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
    return ObjectNormalityModel(config, detector, classes, calibrator, metadata)


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
