"""The per-camera normality model: fit on normal footage of one camera, score any later frame.

Pipeline per frame: grey + resize to a small internal size -> dense optical flow from the frame
`flow_gap` frames earlier -> per-cell descriptors (one array per feature family; "moving" means
faster than a threshold learned from the camera's training flow) -> distance to the nearest normal
descriptors of the same cell -> worst cell = the frame's novelty -> causal temporal smoothing ->
calibration against held-out training scores of the same camera (see `calibration`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from vad.scoring.normality.busy import BusyCorrection
from vad.scoring.normality.calibration import TailCalibrator
from vad.scoring.normality.config import NormalityConfig
from vad.scoring.normality.features import (
    FeatureFamily,
    FramePair,
    flow_magnitude_quantile,
    internal_size,
    make_family,
    to_internal,
)
from vad.scoring.normality.memory import (
    CellMemory,
    cell_scales,
    feature_scale,
    neighbour_vectors,
)
from vad.scoring.normality.smoothing import smooth_scores, smoothing_radius
from vad.scoring.stabilise import SequenceAligner

# 2: flow over `flow_gap` frames, learned motion threshold (model.json);
# 3: `shape` cells overlap by half a cell (`overlapping_cells`), so banks have more cells.
FORMAT_VERSION = 3
_THRESHOLD_PAIRS = 256  # frame pairs sampled to learn the motion threshold (fit time only)
_MODEL_JSON = "model.json"
_MIN_THRESHOLD = 0.05  # px: the flow-noise floor, as `flow_magnitude_quantile`
_MEMORY_NPZ = "memory.npz"
_SPREAD_POOL = 16  # neighbours' vectors drawn per cell, in coreset sizes (bounds an update's RAM)


def _flow_engine(config: NormalityConfig) -> cv2.DISOpticalFlow:
    return cv2.DISOpticalFlow_create(config.flow_preset)


def frame_pairs(n: int, gap: int) -> list[tuple[int, int]]:
    """(earlier, current) frame indices describing each of n frames.

    Frame i is described by the motion from frame i - gap; the first `gap` frames, having no such
    predecessor, borrow the motion of the first pair there is (a lone frame gets zero motion).
    """
    first = (0, min(gap, n - 1)) if n > 0 else (0, 0)
    return [(i - gap, i) if i >= gap else first for i in range(n)]


def extract_features(
    greys: Sequence[np.ndarray],
    families: Sequence[FeatureFamily],
    engine: cv2.DISOpticalFlow,
    gap: int,
    stabilise: bool = False,
) -> dict[str, np.ndarray]:
    """Features of every frame of a continuous grey sequence: {family: (T, C, D)}; `stabilise`:
    each pair's earlier frame is first shifted onto the later one when the whole view moved."""
    pairs = frame_pairs(len(greys), gap)
    rows: dict[str, list[np.ndarray]] = {f.name: [] for f in families}
    cache: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    aligner = SequenceAligner(greys, keep=2 * gap + 2) if stabilise else None
    for a, b in pairs:
        if (a, b) not in cache:
            pair = _pair(greys, a, b, engine, aligner)
            cache = {(a, b): {f.name: f.extract(pair) for f in families}}
        for name, value in cache[(a, b)].items():
            rows[name].append(value)
    return {name: np.stack(v) for name, v in rows.items()}


def _pair(
    greys: Sequence[np.ndarray],
    a: int,
    b: int,
    engine: cv2.DISOpticalFlow,
    aligner: SequenceAligner | None,
) -> FramePair:
    """The pair (greys[a], greys[b]) as scoring and the motion threshold both see it: with an
    `aligner` (stabilise), the earlier frame shifted onto the current one (`align_previous`) and
    the flow's drift removed."""
    earlier = aligner.align(a, b) if aligner is not None else greys[a]
    return FramePair(earlier, greys[b], engine, stabilised=aligner is not None)


@dataclass
class NormalityModel:
    """A fitted model; `score_frames` is pure given the model (no per-call state)."""

    config: NormalityConfig
    frame_size: tuple[int, int]
    memories: dict[str, CellMemory]
    references: dict[str, float]
    calibrator: TailCalibrator
    motion_threshold: float | np.ndarray  # one value, or one per internal row ((H, 1))
    metadata: dict = field(default_factory=dict)
    # per family: the worst cell corrected for the moving cells (`busy_correction`; none: max)
    busy: dict[str, BusyCorrection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.internal = internal_size(*self.frame_size, self.config)
        self.families = [
            make_family(name, self.config, self.motion_threshold) for name in self.config.families
        ]
        self._engine = _flow_engine(self.config)

    @property
    def context_frames(self) -> int:
        """Preceding frames that make a window's scores equal to a whole-video causal pass."""
        return self.config.flow_gap + smoothing_radius(self.config.smoothing_frames)

    def frame_novelty(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """Unsmoothed, uncalibrated novelty per frame of a continuous sequence."""
        greys = [to_internal(f, self.internal) for f in frames]
        feats = extract_features(
            greys, self.families, self._engine, self.config.flow_gap, self.config.stabilise
        )
        return combine_families(
            {name: self.memories[name].distances(x) for name, x in feats.items()},
            self.references,
            self.busy,
        )

    def score_frames(
        self,
        frames: Sequence[np.ndarray],
        context: Sequence[np.ndarray] = (),
        causal: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(raw, calibrated) per frame of `frames`; `context` = frames just before, oldest first.

        raw is the smoothed novelty (in units of the camera's reference training quantile: 1.0 =
        as novel as the reference_quantile of normal footage); calibrated = calibrator(raw).
        `causal=False` smooths with a centred kernel (offline use on a whole video).
        """
        if len(frames) == 0:
            return np.zeros(0), np.zeros(0)
        context = list(context)
        novelty = self.frame_novelty(context + list(frames))
        raw = smooth_scores(novelty, self.config.smoothing_frames, causal=causal)[len(context) :]
        return raw, self.calibrator(raw)

    def extend(
        self,
        clips: Sequence[Sequence[np.ndarray]],
        recalibrate: bool = True,
        spread: float = 0.0,
        tolerate: bool = False,
    ) -> NormalityModel:
        """A new model that also knows `clips` (continuous BGR clips, e.g. a false alarm's frames
        with a few frames before them) as normal, in seconds: their feature vectors are appended
        to each cell's memory (motion threshold, scales and references stay), and, if
        `recalibrate`, the calibrator is refitted with their held-out scores (each fold of the new
        frames scored against the memory plus the other folds), weighted against the frames the
        model has already seen; else it is kept (vad.scoring.incremental says why). `spread`
        (a fraction of the frame width): each cell also learns what the cells that near it saw
        (`neighbour_vectors`), so the lesson holds a step away from where it was shown.
        `tolerate`: each cell where the clips were more novel than the camera's reference (and
        those within `spread`) divides its distances by at least how far they went
        (`_tolerating`): a lesson about the place's noise level, not only these outlines."""
        started = time.perf_counter()
        greys = [[self._internal_grey(f) for f in clip] for clip in clips if len(clip)]
        if not greys:
            raise ValueError("no frames to learn from")
        feats = [
            extract_features(
                g, self.families, self._engine, self.config.flow_gap, self.config.stabilise
            )
            for g in greys
        ]
        seen = int(self.metadata.get("frames_seen", 0))
        calibrator = (
            self.calibrator.merged(self._held_out(feats), seen) if recalibrate else self.calibrator
        )
        added = sum(_length(c) for c in feats)
        metadata = {
            **self.metadata,
            "frames_seen": seen + added,
            "extended_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "extend_seconds": round(time.perf_counter() - started, 3),
            "frames_added": added,
        }
        return NormalityModel(
            self.config,
            self.frame_size,
            self._spread(
                self._tolerating(self._memories_with(feats), feats, spread)
                if tolerate
                else self._memories_with(feats),
                feats,
                spread,
            ),
            self.references,
            calibrator,
            self.motion_threshold,
            metadata,
            self.busy,
        )

    def _held_out(self, feats: list[dict[str, np.ndarray]]) -> np.ndarray:
        """The new clips' smoothed novelty, each fold against the memory plus the other folds."""
        pieces = _split_folds(feats, self.config.calibration_folds)
        folds = min(self.config.calibration_folds, len(pieces))
        fold = _fold_of(pieces, folds)
        held = []
        for f in range(folds):
            memories = self._memories_with([p for p, g in zip(pieces, fold, strict=True) if g != f])
            for piece in (p for p, g in zip(pieces, fold, strict=True) if g == f):
                distances = {n: memories[n].distances(x) for n, x in piece.items()}
                novelty = combine_families(distances, self.references, self.busy)
                held.append(smooth_scores(novelty, self.config.smoothing_frames, causal=True))
        return np.concatenate(held)

    def _tolerating(
        self, memories: dict[str, CellMemory], feats: list[dict[str, np.ndarray]], spread: float
    ) -> dict[str, CellMemory]:
        """`memories` with each cell's distance scale raised to the clips' worst distance there
        (against this model's memory) over the family's reference, where that exceeds 1, dilated
        by `spread`: what fired at that place is at most the reference level there now."""
        out = dict(memories)
        for family in self.families:
            name, parent = family.name, self.memories[family.name]
            worst = np.concatenate([parent.distances(f[name]) for f in feats]).max(axis=0)
            over = np.maximum(worst / self.references[name], 1.0).astype(np.float32)
            rows, cols = family.grid(self.internal)
            radius = round(spread * cols)
            if radius >= 1:
                kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
                over = cv2.dilate(over.reshape(rows, cols), kernel).reshape(-1)
            old = parent.cell_scale if parent.cell_scale is not None else np.ones_like(over)
            out[name] = out[name].with_cell_scale(old * over)
        return out

    def _spread(
        self, memories: dict[str, CellMemory], feats: list[dict[str, np.ndarray]], spread: float
    ) -> dict[str, CellMemory]:
        """`memories` with each cell also knowing its neighbours' new vectors within `spread` of
        the frame width: a second, smaller coreset (a sixteenth of a fitted memory per cell),
        so the cell's own vectors are all kept as without spreading and the update stays a
        matter of seconds however far it spreads (every `step`-th frame only: neighbouring
        frames of one clip are near-duplicates, and the coreset samples its pool anyway)."""
        if spread <= 0:
            return memories
        limit = max(16, self.config.memory_per_cell // 16)
        out = dict(memories)
        for family in self.families:
            rows, cols = family.grid(self.internal)
            radius = round(spread * cols)
            if radius < 1:
                continue
            shifts = (2 * radius + 1) ** 2 - 1
            frames = sum(len(f[family.name]) for f in feats)
            step = max(1, -(-frames * shifts // (_SPREAD_POOL * limit)))
            near = np.concatenate(
                [neighbour_vectors(f[family.name][::step], (rows, cols), radius) for f in feats]
            )
            out[family.name] = out[family.name].extended(near, limit, self.config.seed)
        return out

    def _internal_grey(self, frame: np.ndarray) -> np.ndarray:
        if (frame.shape[1], frame.shape[0]) != tuple(self.frame_size):
            raise ValueError(
                f"frames of {frame.shape[1]}x{frame.shape[0]} cannot extend a model fitted at "
                f"{self.frame_size[0]}x{self.frame_size[1]}; refit it (vad camera learn)"
            )
        return to_internal(frame, self.internal)

    def _memories_with(self, pieces: Sequence[dict[str, np.ndarray]]) -> dict[str, CellMemory]:
        """Each family's memory with the pieces' vectors appended (at most a quarter of a fitted
        memory's size per cell per update, so repeated feedback cannot grow it without bound)."""
        if not pieces:
            return self.memories
        limit = max(16, self.config.memory_per_cell // 4)
        return {
            n: mem.extended(np.concatenate([p[n] for p in pieces]), limit, self.config.seed)
            for n, mem in self.memories.items()
        }

    def save(self, directory: Path) -> None:
        """model.json (config, calibration, metadata) + memory.npz (plain float arrays)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for name, mem in self.memories.items():
            arrays[f"{name}.bank"] = mem.bank
            arrays[f"{name}.scale"] = mem.scale
            if mem.cell_scale is not None:
                arrays[f"{name}.cell_scale"] = mem.cell_scale
        np.savez_compressed(directory / _MEMORY_NPZ, **arrays)
        doc = {
            "format_version": FORMAT_VERSION,
            "kind": "vad.normality",
            "config": self.config.model_dump(mode="json"),
            "frame_size": list(self.frame_size),
            "internal_size": list(self.internal),
            "motion_threshold": _threshold_json(self.motion_threshold),
            "references": self.references,
            "calibration": self.calibrator.to_dict(),
            "busy_correction": {n: b.to_dict() for n, b in self.busy.items()},
            "feature_names": {f.name: list(f.feature_names) for f in self.families},
            "metadata": self.metadata,
        }
        (directory / _MODEL_JSON).write_text(json.dumps(doc, indent=2))

    @classmethod
    def load(cls, directory: Path) -> NormalityModel:
        directory = Path(directory)
        doc = json.loads((directory / _MODEL_JSON).read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"normality model format {doc.get('format_version')!r} in {directory} is not the "
                f"supported format {FORMAT_VERSION}; refit it (vad camera learn) with this version"
            )
        # a model saved before stabilisation (or the slope's shrinkage) existed was fitted
        # without it: it scores (and is extended) as it was fitted
        config = NormalityConfig.model_validate(
            {"stabilise": False, "perspective_shrinkage": False, **doc["config"]}
        )
        with np.load(directory / _MEMORY_NPZ, allow_pickle=False) as data:
            memories = {
                name: CellMemory(
                    data[f"{name}.bank"],
                    data[f"{name}.scale"],
                    config.neighbours,
                    data[f"{name}.cell_scale"] if f"{name}.cell_scale" in data else None,
                )
                for name in config.families
            }
        return cls(
            config=config,
            frame_size=(int(doc["frame_size"][0]), int(doc["frame_size"][1])),
            memories=memories,
            references={k: float(v) for k, v in doc["references"].items()},
            calibrator=TailCalibrator.from_dict(doc["calibration"]),
            motion_threshold=_threshold_from_json(doc["motion_threshold"]),
            metadata=doc.get("metadata", {}),
            # a model saved before the busy-scene round takes the plain max, as it was fitted
            busy={
                n: BusyCorrection.from_dict(b) for n, b in doc.get("busy_correction", {}).items()
            },
        )


def _threshold_json(threshold: float | np.ndarray) -> float | list[float]:
    if isinstance(threshold, np.ndarray):
        return [round(float(v), 6) for v in threshold.ravel()]
    return float(threshold)


def _threshold_from_json(value: float | list[float]) -> float | np.ndarray:
    if isinstance(value, list):
        return np.asarray(value, dtype=np.float32)[:, None]
    return float(value)


def combine_families(
    distances: dict[str, np.ndarray],
    references: dict[str, float],
    busy: dict[str, BusyCorrection] | None = None,
) -> np.ndarray:
    """(T, C) cell distances per family -> (T,) frame novelty.

    The worst cell decides (an anomaly is usually local), corrected for the frame's moving cells
    where `busy` has a correction for the family; each family is divided by its own reference
    quantile so families with different units can be compared, and the worst family wins.
    """
    plain = BusyCorrection()
    per_family = [
        (busy or {}).get(name, plain).frame_values(d) / references[name]
        for name, d in distances.items()
    ]
    return np.max(np.stack(per_family), axis=0)


# --------------------------------------------------------------------------------------- fitting


def _clip_greys(
    videos: Iterable[Iterable[np.ndarray]], config: NormalityConfig
) -> tuple[list[list[np.ndarray]], tuple[int, int]]:
    """Internal grey frames of every clip (small: 24 kB a frame at the default size), kept so the
    motion threshold can be learned before any feature is extracted."""
    clips: list[list[np.ndarray]] = []
    frame_size: tuple[int, int] | None = None
    for video in videos:
        greys = []
        for frame in video:
            if frame_size is None:
                frame_size = (int(frame.shape[1]), int(frame.shape[0]))
            greys.append(to_internal(frame, internal_size(*frame_size, config)))
        if greys:
            clips.append(greys)
    if frame_size is None:
        raise ValueError("no training frames")
    return clips, frame_size


def learn_motion_threshold(
    clips: Sequence[Sequence[np.ndarray]], config: NormalityConfig
) -> float | np.ndarray:
    """The camera's motion threshold: `motion_quantile` of training flow magnitudes, measured on
    up to `_THRESHOLD_PAIRS` evenly spread frame pairs (same gap as scoring). With
    `perspective_threshold` it is one value per internal row (an (H, 1) array): the global value
    scaled by the row's perspective prior over the busiest row's, so a far-away row, where
    everything moves fewer pixels, gets a proportionally lower threshold."""
    pairs = [
        (clip, a, b)
        for clip in clips
        for a, b in frame_pairs(len(clip), config.flow_gap)[config.flow_gap :]
    ]
    step = max(1, len(pairs) // _THRESHOLD_PAIRS)
    engine = _flow_engine(config)
    flows = [
        _pair(clip, a, b, engine, SequenceAligner(clip) if config.stabilise else None).flow
        for clip, a, b in pairs[::step]
    ]
    threshold = flow_magnitude_quantile(flows, config.motion_quantile)
    if not config.perspective_threshold or not flows:
        return threshold
    return perspective_thresholds(
        flows, threshold, config.motion_quantile, shrink=config.perspective_shrinkage
    )


def perspective_thresholds(
    flows: Sequence[np.ndarray],
    threshold: float,
    quantile: float,
    cell: int = 8,
    shrink: bool = False,
) -> np.ndarray:
    """(H, 1) per-row thresholds: `threshold` x row prior / busiest row's prior (floored)."""
    from vad.scoring.velocity import row_prior

    h, w = flows[0].shape[0] // cell * cell, flows[0].shape[1] // cell * cell
    speeds = np.stack(
        [
            np.hypot(f[:h, :w, 0], f[:h, :w, 1])
            .reshape(h // cell, cell, w // cell, cell)
            .mean((1, 3))
            for f in flows
        ]
    )
    prior = row_prior(speeds, quantile, shrink)
    centres = (np.arange(len(prior)) + 0.5) * cell
    rows = np.interp(np.arange(flows[0].shape[0]) + 0.5, centres, prior / prior.max())
    return np.maximum(threshold * rows, _MIN_THRESHOLD)[:, None].astype(np.float32)


def _clip_features(
    clips: Sequence[Sequence[np.ndarray]], config: NormalityConfig, motion_threshold: float
) -> list[dict[str, np.ndarray]]:
    families = [make_family(name, config, motion_threshold) for name in config.families]
    engine = _flow_engine(config)
    return [
        extract_features(greys, families, engine, config.flow_gap, config.stabilise)
        for greys in clips
    ]


def _split_folds(clips: list[dict[str, np.ndarray]], folds: int) -> list[dict[str, np.ndarray]]:
    """Cut clips into contiguous chunks until there are at least `folds` pieces to hold out."""
    pieces = list(clips)
    while len(pieces) < folds:
        longest = max(range(len(pieces)), key=lambda i: _length(pieces[i]))
        clip = pieces.pop(longest)
        n = _length(clip)
        if n < 2:
            pieces.append(clip)
            break
        half = n // 2
        pieces += [{k: v[:half] for k, v in clip.items()}, {k: v[half:] for k, v in clip.items()}]
    return pieces


def _length(clip: dict[str, np.ndarray]) -> int:
    return len(next(iter(clip.values())))


def _fold_of(pieces: list[dict[str, np.ndarray]], folds: int) -> list[int]:
    """Longest-first greedy assignment so folds hold similar numbers of frames."""
    load = [0] * folds
    fold = [0] * len(pieces)
    for i in sorted(range(len(pieces)), key=lambda i: -_length(pieces[i])):
        f = int(np.argmin(load))
        fold[i], load[f] = f, load[f] + _length(pieces[i])
    return fold


def _build_memories(
    pieces: list[dict[str, np.ndarray]], scales: dict[str, np.ndarray], config: NormalityConfig
) -> dict[str, CellMemory]:
    return {
        name: CellMemory.build(
            np.concatenate([p[name] for p in pieces]),
            scale,
            config.memory_per_cell,
            config.neighbours,
            config.seed,
        )
        for name, scale in scales.items()
    }


def _held_out_distances(
    pieces: list[dict[str, np.ndarray]], scales: dict[str, np.ndarray], config: NormalityConfig
) -> list[dict[str, np.ndarray]]:
    """Per piece, per family: (T, C) cell distances against a memory without that piece's fold."""
    folds = min(config.calibration_folds, len(pieces))
    fold = _fold_of(pieces, folds)
    out: list[dict[str, np.ndarray]] = [{} for _ in pieces]
    for f in range(folds):
        train = [p for p, g in zip(pieces, fold, strict=True) if g != f]
        memories = _build_memories(train, scales, config)
        for i, piece in enumerate(pieces):
            if fold[i] == f:
                out[i] = {n: memories[n].distances(piece[n]) for n in scales}
    return out


def fit_normality_model(
    videos: Iterable[Iterable[np.ndarray]], config: NormalityConfig | None = None
) -> NormalityModel:
    """Fit on normal footage of one camera; each inner iterable is one continuous clip (BGR)."""
    config = config or NormalityConfig()
    started = time.perf_counter()
    greys, frame_size = _clip_greys(videos, config)
    threshold = learn_motion_threshold(greys, config)
    clips = _clip_features(greys, config, threshold)
    del greys
    families = {f.name: f for f in (make_family(n, config, threshold) for n in config.families)}
    everything = {n: np.concatenate([c[n] for c in clips]) for n in families}
    scales = {n: feature_scale(x, families[n].active(x)) for n, x in everything.items()}
    pieces = _split_folds(clips, config.calibration_folds)
    held = _held_out_distances(pieces, scales, config)
    per_cell = {
        n: cell_scales(np.concatenate([h[n] for h in held]), config.reference_quantile)
        if config.per_cell_normalisation
        else None
        for n in families
    }
    held = [
        {n: h[n] / per_cell[n] if per_cell[n] is not None else h[n] for n in families} for h in held
    ]
    busy = _fit_busy(held, config)
    held = [{n: busy[n].frame_values(h[n]) for n in families} for h in held]
    references = {
        n: max(
            float(np.quantile(np.concatenate([h[n] for h in held]), config.reference_quantile)),
            1e-6,
        )
        for n in families
    }
    smoothed = [
        smooth_scores(
            combine_families({n: h[n][:, None] for n in families}, references),
            config.smoothing_frames,
            causal=True,
        )
        for h in held
    ]
    calibrator = TailCalibrator.fit(
        np.concatenate(smoothed), config.tail_quantile, config.reference_quantile
    )
    memories = {
        n: m.with_cell_scale(per_cell[n]) if per_cell[n] is not None else m
        for n, m in _build_memories(clips, scales, config).items()
    }
    frames_seen = sum(_length(c) for c in clips)
    metadata = {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fit_seconds": round(time.perf_counter() - started, 3),
        "frames_seen": frames_seen,
        "clips": len(clips),
        "held_out_reference_raw": references,
        "motion_threshold": _threshold_json(threshold),
    }
    return NormalityModel(
        config,
        frame_size,
        memories,
        references,
        calibrator,
        threshold,
        metadata,
        {n: b for n, b in busy.items() if b.kind != "off"},
    )


def _fit_busy(
    held: list[dict[str, np.ndarray]], config: NormalityConfig
) -> dict[str, BusyCorrection]:
    """Per family, `config.busy_correction` fitted on every held-out piece's (T, C) distances
    (the same distances the references and the calibrator are fitted on)."""
    return {
        n: BusyCorrection.fit(
            config.busy_correction,
            np.concatenate([h[n] for h in held]),
            config.tail_quantile,
            config.reference_quantile,
        )
        for n in held[0]
    }
