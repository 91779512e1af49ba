"""The velocity model: how fast and how big each moving thing is, against what this camera shows
at that place (issue 17, after attribute-based VAD, Reiss & Hoshen 2022).

Why: a per-cell model of hand-made outlines (the pixel model) learns Ped2's side view and fails
on a camera looking down a walkway (Ped1: 0.67), where a walker near the camera moves several
times as many pixels as one far away. Here speed is measured against what the camera shows at
that place, so the same defaults hold on every camera:

1. grey frame at `width` px, dense Farneback flow from the previous frame;
2. mean flow speed per 8 px cell;
3. each cell's speed over its *normal speed*: the `speed_quantile` of the cell's training speeds,
   floored by a perspective prior per image row (the same quantile over the row, fitted linear in
   the row: under ground-plane perspective image speed grows linearly with the row) so a cell
   that walkers rarely cross does not fire on the first one that does; with
   `perspective_shrinkage` (off by default: measured, not adopted) the fitted slope is shrunk by
   its evidence, so a camera without perspective (a side view, where the busy rows' speeds rise
   and fall with the scene's layout) gets a flat prior;
4. the frame's novelty = its fastest cell in those units, at the place it happens (with
   `busy_correction`, off by default, corrected for how many cells move in the frame: a crowd
   gives the max more draws at the tail);
5. causal temporal smoothing and held-out calibration (`TailCalibrator`), as the pixel model.

Moving blobs with kNN density over their normalised speed and size (attribute-based VAD, Reiss &
Hoshen 2022) were tried first and lost to this on the test sets (blobs merge walkers and split
cyclists at 160 px): docs/benchmarks-normality.md, round 6.

Defaults were chosen on training footage only (`bench/stage1_research.py --proxy`), the same for
every dataset (docs/benchmarks-normality.md, round 6).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vad.scoring.normality.calibration import TailCalibrator
from vad.scoring.normality.smoothing import smooth_scores, smoothing_radius
from vad.scoring.stabilise import SequenceAligner, without_drift

VELOCITY_JSON = "velocity.json"
FORMAT_VERSION = 1


class VelocityConfig(BaseModel):
    """How the velocity model is fitted and scored (generic values, chosen on the proxy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Fit and use the velocity model at `vad camera learn`.")
    width: int = Field(
        160,
        ge=64,
        le=640,
        description=(
            "Internal width of the grey frames the flow is computed on (aspect kept). 240 and 320 "
            "px (8-16 px cells) lost on the training proxy and cost up to 2.2x the CPU "
            "(docs/benchmarks-normality.md, velocity resolution round)."
        ),
    )
    cell_px: int = Field(8, ge=4, le=64, description="Side of a speed cell, internal px.")
    speed_quantile: float = Field(
        0.999,
        gt=0.5,
        lt=1,
        description="A cell's normal speed: this quantile of its training speeds (and its row's).",
    )
    perspective_shrinkage: bool = Field(
        False,
        description=(
            "Shrink the perspective prior's slope (speed linear in the image row) by its "
            "evidence: x max(0, 1 - 1/t^2), t = slope / its standard error over the busy rows, "
            "so a camera whose rows show no clear perspective gets a flat prior (`row_prior`)."
        ),
    )
    busy_correction: Literal["off", "curve", "count"] = Field(
        "off",
        description=(
            "How a frame's max over cells is corrected for how many cells move in it (a crowd "
            "gives more draws at the tail; docs/benchmarks-normality.md, busy-scene round): "
            "`curve` divides it by (1 + moving cells)^b, b >= 0 the slope of log max on "
            "log(1 + moving) over held-out training frames where a cell moves; `count` "
            "subtracts s log(1 + moving), s the exponential tail scale of moving cells' "
            "held-out ratios (the max of n independent exponential tails shifts by s log n); "
            "`off`: the plain max."
        ),
    )
    busy_floor: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="A cell moves (for `busy_correction`) at this share of its normal speed.",
    )
    calibration_folds: int = Field(4, ge=2, le=16)
    reference_quantile: float = Field(0.99, gt=0.5, lt=1)
    tail_quantile: float = Field(0.9, gt=0.5, lt=1)
    smoothing_frames: float = Field(2.0, ge=0, le=16)
    stabilise: bool = Field(
        True,
        description=(
            "Shift the previous frame onto the current one before the flow when the whole view "
            "moved (a camera shaking on its pole; vad/scoring/stabilise.py). A steady camera's "
            "scores are unchanged bit for bit."
        ),
    )


def to_grey(frame: np.ndarray, width: int) -> np.ndarray:
    """Grey, area-resized to `width` (aspect kept)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    h, w = grey.shape[:2]
    return cv2.resize(grey, (width, max(8, round(h * width / w))), interpolation=cv2.INTER_AREA)


def frame_flow(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Dense Farneback flow (the issue's reference parameters), (H, W, 2) float32."""
    return cv2.calcOpticalFlowFarneback(previous, current, None, 0.5, 3, 9, 3, 5, 1.1, 0)


def cell_speeds(greys: Sequence[np.ndarray], cell: int, stabilise: bool = False) -> np.ndarray:
    """(T, rows, cols) mean flow speed per cell of every frame of a continuous grey sequence;
    the first frame has no predecessor (zeros). A frame identical to the previous one is still
    (no flow computed: nothing moves, nothing to pay for). `stabilise`: the previous frame is
    first shifted onto the current one when the whole view moved (`align_previous`) and the
    flow's remaining drift removed (`without_drift`)."""
    if not greys:
        return np.zeros((0, 0, 0))
    h, w = greys[0].shape[0] // cell * cell, greys[0].shape[1] // cell * cell
    out = np.zeros((len(greys), h // cell, w // cell), np.float32)
    aligner = SequenceAligner(greys) if stabilise else None
    for i in range(1, len(greys)):
        if np.array_equal(greys[i - 1], greys[i]):
            continue
        previous = aligner.align(i - 1, i) if aligner is not None else greys[i - 1]
        flow = frame_flow(previous, greys[i])
        flow = (without_drift(flow) if aligner is not None else flow)[:h, :w]
        speed = np.hypot(flow[..., 0], flow[..., 1])
        out[i] = speed.reshape(h // cell, cell, w // cell, cell).mean(axis=(1, 3))
    return out


def row_prior(speeds: np.ndarray, quantile: float, shrink: bool = False) -> np.ndarray:
    """(rows,) perspective prior: the `quantile` of each cell row's speeds (T, rows, cols),
    fitted linear in the row over the rows that see traffic, clipped to 0.2-1.5x the busiest
    row (image speed under ground-plane perspective grows linearly with the row). `shrink`:
    the slope is first shrunk by its evidence (`perspective_slope`)."""
    rows = np.arange(speeds.shape[1])
    per_row = np.quantile(speeds.transpose(1, 0, 2).reshape(len(rows), -1), quantile, axis=1)
    per_row = per_row + 1e-3
    busy = per_row >= 0.5 * np.median(per_row)
    top = float(per_row[busy].max())
    if busy.sum() >= 2:
        slope, intercept = np.polyfit(rows[busy], per_row[busy], 1)
        if shrink:
            slope, intercept = perspective_slope(rows[busy], per_row[busy])
    else:
        slope, intercept = 0.0, top
    return np.clip(intercept + slope * rows, 0.2 * top, 1.5 * top)


def perspective_slope(rows: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of `values` linear in `rows`, the slope shrunk by its evidence.

    Why: on a camera looking down a walkway the busy rows' speeds rise steadily toward the
    camera (Ped1: t = slope / standard error 10-14) and the fit is the perspective; on a side
    view they rise and fall with where the walkway lies (Ped2: |t| < 1), and an unshrunk fit
    lowers the thresholds of whichever end happens to be slower. Empirical Bayes with a normal
    prior on the slope centred on "no perspective", its variance estimated from the data: the
    slope times max(0, 1 - 1/t^2), the line pivoting about the rows' mean (it stays through
    their centroid). Fewer than 3 rows cannot show their scatter: flat."""
    slope, intercept = np.polyfit(rows, values, 1)
    if len(rows) < 3:
        return 0.0, float(np.mean(values))
    residual = values - (intercept + slope * rows)
    spread = float(((rows - rows.mean()) ** 2).sum())
    variance = float((residual**2).sum()) / (len(rows) - 2) / spread
    keep = 1.0 if variance == 0 else max(0.0, 1.0 - variance / float(slope) ** 2)
    slope = float(slope) * keep
    return slope, float(values.mean() - slope * rows.mean())


def normal_speeds(speeds: np.ndarray, quantile: float, shrink: bool = False) -> np.ndarray:
    """(rows, cols) normal speed per cell: its own quantile, floored by the row prior."""
    own = np.quantile(speeds, quantile, axis=0) + 1e-3
    return np.maximum(own, row_prior(speeds, quantile, shrink)[:, None]).astype(np.float32)


def moving_cells(ratios: np.ndarray, floor: float) -> np.ndarray:
    """(T,) how many cells of each frame of (T, rows, cols) ratios move at `floor` x their normal
    speed or faster: the frame's activity, in the camera's own units."""
    return (ratios >= floor).reshape(len(ratios), -1).sum(axis=1)


def busy_novelty(ratios: np.ndarray, mode: str, strength: float, floor: float) -> np.ndarray:
    """(T,) each frame's max ratio, corrected for its activity (`VelocityConfig.busy_correction`)
    by the fitted `strength` (the curve's slope b or the tail scale s)."""
    top = ratios.reshape(len(ratios), -1).max(axis=1).astype(np.float64)
    if mode == "off" or strength <= 0:
        return top
    activity = np.log1p(moving_cells(ratios, floor))
    return top / np.exp(strength * activity) if mode == "curve" else top - strength * activity


def busy_strength(held: Sequence[np.ndarray], mode: str, floor: float) -> float:
    """The correction's strength fitted on held-out (T, rows, cols) ratios (0 for `off`):
    `curve` the least-squares slope of log max on log(1 + moving cells) over the frames where a
    cell moves, floored at 0 (monotone: a busier frame is never corrected upwards; a still
    frame's max of 0, e.g. a clip's first, at log 0 would decide the slope: V1's flaw, 0.99 on
    Ped2, docs/benchmarks-normality.md busy-scene round); `count` the mean exceedance of moving
    cells' ratios over their 0.9 quantile (an exponential tail's scale)."""
    if mode == "off" or not held:
        return 0.0
    ratios = np.concatenate(list(held))
    if mode == "curve":
        count = moving_cells(ratios, floor)
        moves = count > 0  # a clip's first frame and still frames (max 0) would set the slope
        top = ratios.reshape(len(ratios), -1).max(axis=1)[moves]
        activity = np.log1p(count[moves])
        if activity.size < 2 or np.ptp(activity) == 0:
            return 0.0
        slope = np.polyfit(activity, np.log(top), 1)[0]
        return max(0.0, float(slope))
    moving = ratios[ratios >= floor]
    if moving.size < 10:
        return 0.0
    u = float(np.quantile(moving, 0.9))
    return float(np.mean(moving[moving > u] - u)) if (moving > u).any() else 0.0


@dataclass
class VelocityVerdict:
    """A frame's fastest cell: how many times its normal speed, and where (internal px box)."""

    novelty: float
    box: tuple[int, int, int, int] | None


@dataclass
class VelocityModel:
    """A fitted velocity model; `score_frames` is pure given the model."""

    config: VelocityConfig
    frame_size: tuple[int, int]
    normal: np.ndarray  # (rows, cols) normal speed per cell
    calibrator: TailCalibrator
    metadata: dict = field(default_factory=dict)
    busy_strength: float = 0.0  # the fitted `busy_correction` strength (0: the plain max)

    @property
    def context_frames(self) -> int:
        return 1 + smoothing_radius(self.config.smoothing_frames)

    def ratios(self, greys: Sequence[np.ndarray]) -> np.ndarray:
        """(T, rows, cols) speed over normal speed."""
        speeds = cell_speeds(greys, self.config.cell_px, self.config.stabilise)
        if speeds.shape[1:] != self.normal.shape:
            raise ValueError(
                f"velocity model fitted at {self.frame_size[0]}x{self.frame_size[1]} "
                f"({self.normal.shape} cells) cannot score frames of another aspect; refit it"
            )
        return speeds / self.normal

    def verdicts(self, greys: Sequence[np.ndarray]) -> list[VelocityVerdict]:
        c = self.config.cell_px
        out = []
        for ratio in self.ratios(greys):
            r, k = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            out.append(VelocityVerdict(float(ratio[r, k]), (int(k * c), int(r * c), c, c)))
        return out

    def frame_novelty(self, greys: Sequence[np.ndarray]) -> np.ndarray:
        return self._novelty(self.ratios(greys))

    def _novelty(self, ratios: np.ndarray) -> np.ndarray:
        c = self.config
        return busy_novelty(ratios, c.busy_correction, self.busy_strength, c.busy_floor)

    def score_frames(
        self, frames: Sequence[np.ndarray], context: Sequence[np.ndarray] = (), causal: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """(raw, calibrated) per frame of `frames`; `context` = the frames just before them."""
        if len(frames) == 0:
            return np.zeros(0), np.zeros(0)
        context = list(context)
        greys = [to_grey(f, self.config.width) for f in context + list(frames)]
        smoothed = smooth_scores(self.frame_novelty(greys), self.config.smoothing_frames, causal)
        raw = smoothed[len(context) :]
        return raw, self.calibrator(raw)

    def extend(
        self, clips: Sequence[Sequence[np.ndarray]], recalibrate: bool = True, spread: float = 0.0
    ) -> VelocityModel:
        """A new model that also knows `clips` (continuous BGR clips) as normal: each cell's
        normal speed rises to at least the clips' `speed_quantile` there (never falls), and, if
        `recalibrate`, the calibrator is refitted with their held-out novelty (each fold of the
        new frames against the normal speeds raised by the other folds only); else it is kept.
        `spread` (a fraction of the frame width): each cell's normal speed also rises to what the
        cells that near it saw, so the lesson holds a step away from where it was shown."""
        started = time.perf_counter()
        width, cell = self.config.width, self.config.cell_px
        speeds = [
            cell_speeds([to_grey(f, width) for f in clip], cell, self.config.stabilise)[1:]
            for clip in clips
            if len(clip) > 1
        ]
        if not speeds:
            raise ValueError("no clip of two frames or more to learn from")
        if speeds[0].shape[1:] != self.normal.shape:
            raise ValueError(
                f"frames of another size cannot extend a velocity model fitted at "
                f"{self.frame_size[0]}x{self.frame_size[1]}; refit it (vad camera learn)"
            )
        seen = int(self.metadata.get("frames_seen", 0))
        calibrator = (
            self.calibrator.merged(self._held_out(speeds), seen) if recalibrate else self.calibrator
        )
        added = int(sum(len(s) for s in speeds))
        metadata = {
            **self.metadata,
            "frames_seen": seen + added,
            "extended_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "extend_seconds": round(time.perf_counter() - started, 3),
            "frames_added": added,
        }
        return VelocityModel(
            self.config,
            self.frame_size,
            self._normal_with(speeds, spread),
            calibrator,
            metadata,
            self.busy_strength,
        )

    def _held_out(self, speeds: list[np.ndarray]) -> np.ndarray:
        """The new clips' smoothed novelty, each fold against the normal speeds raised by the
        other folds only."""
        pieces = _pieces(speeds, self.config.calibration_folds)
        folds = min(self.config.calibration_folds, len(pieces))
        fold = np.minimum(np.arange(len(pieces)) * folds // len(pieces), folds - 1)
        held = []
        for f in range(folds):
            normal = self._normal_with([p for p, g in zip(pieces, fold, strict=True) if g != f])
            for piece in (p for p, g in zip(pieces, fold, strict=True) if g == f):
                novelty = self._novelty(piece / normal)
                held.append(smooth_scores(novelty, self.config.smoothing_frames, True))
        return np.concatenate(held)

    def _normal_with(self, speeds: Sequence[np.ndarray], spread: float = 0.0) -> np.ndarray:
        if not speeds:
            return self.normal
        own = np.quantile(np.concatenate(speeds), self.config.speed_quantile, axis=0) + 1e-3
        radius = round(spread * own.shape[1])
        if radius > 0:  # a grey dilation: each cell takes the fastest of its neighbourhood
            own = cv2.dilate(own.astype(np.float32), np.ones((2 * radius + 1,) * 2, np.uint8))
        return np.maximum(self.normal, own).astype(np.float32)

    def summary(self) -> str:
        return (
            f"{self.normal.shape[0]} x {self.normal.shape[1]} cells, normal speed "
            f"{self.normal.min():.2f}-{self.normal.max():.2f} px/frame at {self.config.width} px"
        )

    def save(self, directory: Path) -> None:
        doc = {
            "format_version": FORMAT_VERSION,
            "kind": "vad.velocity",
            "config": self.config.model_dump(mode="json"),
            "frame_size": list(self.frame_size),
            "normal": self.normal.tolist(),
            "calibration": self.calibrator.to_dict(),
            "metadata": self.metadata,
            "busy_strength": self.busy_strength,
        }
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / VELOCITY_JSON).write_text(json.dumps(doc))

    @classmethod
    def load(cls, directory: Path) -> VelocityModel:
        doc = json.loads((Path(directory) / VELOCITY_JSON).read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"velocity model format {doc.get('format_version')!r} in {directory} is not the "
                f"supported format {FORMAT_VERSION}; refit it (vad camera learn) with this version"
            )
        return cls(
            # saved before stabilisation (or the slope's shrinkage) existed = fitted without it
            VelocityConfig.model_validate(
                {"stabilise": False, "perspective_shrinkage": False, **doc["config"]}
            ),
            (int(doc["frame_size"][0]), int(doc["frame_size"][1])),
            np.asarray(doc["normal"], np.float32),
            TailCalibrator.from_dict(doc["calibration"]),
            doc.get("metadata", {}),
            float(doc.get("busy_strength", 0.0)),  # saved before the busy round: the plain max
        )


def fit_velocity_from_greys(
    clips: Sequence[Sequence[np.ndarray]],
    frame_size: tuple[int, int],
    config: VelocityConfig | None = None,
) -> VelocityModel:
    """Fit on grey clips already at `config.width` (see `to_grey`); one clip = continuous."""
    config = config or VelocityConfig()
    started = time.perf_counter()
    speeds = [cell_speeds(c, config.cell_px, config.stabilise) for c in clips if len(c) > 1]
    if not speeds:
        raise ValueError("no training clip of two frames or more")
    moving = np.concatenate([s[1:] for s in speeds])
    if not moving.any():
        raise ValueError(
            "nothing moves in the training footage: the velocity model needs footage in which "
            "the camera's usual traffic moves"
        )
    pieces = _pieces(speeds, config.calibration_folds)
    held_ratios = _held_out_ratios(pieces, config)
    mode, floor = config.busy_correction, config.busy_floor
    strength = busy_strength(held_ratios, mode, floor)
    held = [busy_novelty(r, mode, strength, floor) for r in held_ratios]
    calibrator = TailCalibrator.fit(
        np.concatenate([smooth_scores(h, config.smoothing_frames, True) for h in held]),
        config.tail_quantile,
        config.reference_quantile,
    )
    metadata = {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fit_seconds": round(time.perf_counter() - started, 3),
        "frames_seen": int(sum(len(s) for s in speeds)),
    }
    normal = normal_speeds(moving, config.speed_quantile, config.perspective_shrinkage)
    return VelocityModel(config, frame_size, normal, calibrator, metadata, strength)


def fit_velocity_model(
    videos: Iterable[Iterable[np.ndarray]], config: VelocityConfig | None = None
) -> VelocityModel:
    """Fit on BGR clips of normal footage of one camera."""
    config = config or VelocityConfig()
    clips, frame_size = [], None
    for video in videos:
        greys = []
        for frame in video:
            frame_size = frame_size or (int(frame.shape[1]), int(frame.shape[0]))
            greys.append(to_grey(frame, config.width))
        if greys:
            clips.append(greys)
    if frame_size is None:
        raise ValueError("no training frames")
    return fit_velocity_from_greys(clips, frame_size, config)


def _pieces(speeds: list[np.ndarray], folds: int) -> list[np.ndarray]:
    """Clips cut in halves (longest first) until there are `folds` pieces to hold out."""
    pieces = list(speeds)
    while len(pieces) < folds and max(len(p) for p in pieces) >= 4:
        longest = max(range(len(pieces)), key=lambda i: len(pieces[i]))
        clip = pieces.pop(longest)
        pieces += [clip[: len(clip) // 2], clip[len(clip) // 2 :]]
    return pieces


def _held_out_ratios(pieces: list[np.ndarray], config: VelocityConfig) -> list[np.ndarray]:
    """Per piece, (T, rows, cols) speed over the normal speeds learned without that piece's fold
    (contiguous pieces: neighbouring frames look alike, a random split would self-match)."""
    folds = min(config.calibration_folds, len(pieces))
    fold = np.minimum(np.arange(len(pieces)) * folds // len(pieces), folds - 1)
    out: list[np.ndarray] = [np.zeros(0)] * len(pieces)
    for f in range(folds):
        rest = [p for p, g in zip(pieces, fold, strict=True) if g != f] or pieces
        normal = normal_speeds(
            np.concatenate(rest), config.speed_quantile, config.perspective_shrinkage
        )
        for i, piece in enumerate(pieces):
            if fold[i] == f:
                out[i] = piece / normal
    return out
