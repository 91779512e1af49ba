"""The velocity model: how fast and how big each moving thing is, against what this camera shows
at that place (issue 17, after attribute-based VAD, Reiss & Hoshen 2022).

Why: a per-cell model of hand-made outlines (the pixel model) learns Ped2's side view and fails
on a camera looking down a walkway (Ped1: 0.67), where a walker near the camera moves and measures
several times what one far away does. Here every moving blob is described by attributes that
perspective does not change once normalised, so the same defaults hold on every camera:

1. grey frame at `width` px, dense Farneback flow from the previous frame;
2. a per-camera *perspective scale* per image row: the `speed_quantile` of training cell speeds in
   that row, fitted linear in the row (ground-plane perspective: image speed and size both grow
   linearly with the row) and clipped to a sane range, so rows that walkers rarely cross still get
   a scale (a plain per-cell quantile is noise there);
3. moving blobs = connected regions where speed / scale > `motion_ratio`;
4. per blob: log mean and log max normalised speed, log area over the scale squared (a walker far
   away and one near the camera have the same value);
5. the frame's novelty = the largest distance of one of its blobs to its `neighbours`-th nearest
   normal blob of this camera (kNN density; a frame without blobs is 0);
6. causal temporal smoothing and held-out calibration (`TailCalibrator`), as the pixel model.

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

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vad.scoring.normality.calibration import TailCalibrator
from vad.scoring.normality.smoothing import smooth_scores, smoothing_radius

VELOCITY_JSON = "velocity.json"
FORMAT_VERSION = 1
_CELL = 8  # px of the internal image per cell of the perspective statistics
_ATTRIBUTES = ("log_mean_speed", "log_max_speed", "log_relative_area")


class VelocityConfig(BaseModel):
    """How the velocity model is fitted and scored (generic values, chosen on the proxy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Fit and use the velocity model at `vad camera learn`.")
    width: int = Field(
        160,
        ge=64,
        le=640,
        description="Internal width of the grey frames the flow is computed on (aspect kept).",
    )
    speed_quantile: float = Field(
        0.99,
        gt=0.5,
        lt=1,
        description="Quantile of training cell speeds per row that defines the perspective scale.",
    )
    motion_ratio: float = Field(
        0.3,
        gt=0,
        le=4,
        description="A pixel is moving when its flow exceeds this fraction of its row's scale.",
    )
    min_area: int = Field(4, ge=1, description="Smallest blob (internal px) that is described.")
    neighbours: int = Field(3, ge=1, le=32, description="k of the kNN density.")
    memory: int = Field(
        4096, ge=64, le=65536, description="Normal blobs kept (random subset, seeded)."
    )
    calibration_folds: int = Field(4, ge=2, le=16)
    reference_quantile: float = Field(0.99, gt=0.5, lt=1)
    tail_quantile: float = Field(0.9, gt=0.5, lt=1)
    smoothing_frames: float = Field(2.0, ge=0, le=16)
    seed: int = 0


def to_grey(frame: np.ndarray, width: int) -> np.ndarray:
    """Grey, area-resized to `width` (aspect kept)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    h, w = grey.shape[:2]
    return cv2.resize(grey, (width, max(8, round(h * width / w))), interpolation=cv2.INTER_AREA)


def frame_flow(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Dense Farneback flow (the issue's reference parameters), (H, W, 2) float32."""
    return cv2.calcOpticalFlowFarneback(previous, current, None, 0.5, 3, 9, 3, 5, 1.1, 0)


def clip_flows(greys: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Flow of every frame from its predecessor; the first frame of a clip has none (zeros)."""
    if not greys:
        return []
    zero = np.zeros((*greys[0].shape, 2), np.float32)
    return [zero] + [frame_flow(greys[i - 1], greys[i]) for i in range(1, len(greys))]


def _cell_speeds(flow: np.ndarray) -> np.ndarray:
    m = np.hypot(flow[..., 0], flow[..., 1])
    h, w = m.shape[0] // _CELL * _CELL, m.shape[1] // _CELL * _CELL
    return m[:h, :w].reshape(h // _CELL, _CELL, w // _CELL, _CELL).mean(axis=(1, 3))


def perspective_scale(flows: Sequence[np.ndarray], quantile: float) -> np.ndarray:
    """Per internal pixel row, the speed a fast normal mover shows there (see module doc, 2)."""
    cells = np.stack([_cell_speeds(f) for f in flows])  # (T, rows, cols)
    rows = np.arange(cells.shape[1])
    row_q = np.quantile(cells.transpose(1, 0, 2).reshape(len(rows), -1), quantile, axis=1) + 1e-3
    busy = row_q >= 0.5 * np.median(row_q)
    if busy.sum() >= 2:
        slope, intercept = np.polyfit(rows[busy], row_q[busy], 1)
    else:
        slope, intercept = 0.0, float(row_q.max())
    top = float(row_q[busy].max())
    per_row = np.clip(intercept + slope * rows, 0.2 * top, 1.5 * top)
    height = flows[0].shape[0]
    centres = (rows + 0.5) * _CELL
    return np.interp(np.arange(height) + 0.5, centres, per_row).astype(np.float32)


def blob_attributes(
    flow: np.ndarray, scale: np.ndarray, motion_ratio: float, min_area: int
) -> tuple[np.ndarray, np.ndarray]:
    """(attributes (n, 3), boxes (n, 4) as x, y, w, h internal px) of the frame's moving blobs."""
    speed = np.hypot(flow[..., 0], flow[..., 1]) / scale[:, None]
    mask = (speed > motion_ratio).astype(np.uint8)
    n, labels, stats, centres = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return np.zeros((0, 3), np.float32), np.zeros((0, 4), np.int32)
    flat = labels.ravel()
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    mean = np.bincount(flat, speed.ravel(), n) / area
    peak = np.zeros(n)
    np.maximum.at(peak, flat, speed.ravel())
    rows = np.clip(centres[:, 1].astype(int), 0, len(scale) - 1)
    relative_area = area / (100.0 * scale[rows] ** 2)
    keep = area >= min_area
    keep[0] = False
    attrs = np.stack([np.log(mean), np.log(peak), np.log(relative_area)], axis=1)
    return attrs[keep].astype(np.float32), stats[keep, :4].astype(np.int32)


@dataclass
class BlobMemory:
    """Normal blob attributes of one camera, standardised; kNN distance of new blobs."""

    bank: np.ndarray  # (N, 3) already divided by `spread`
    spread: np.ndarray  # (3,)
    neighbours: int

    @classmethod
    def build(cls, attrs: np.ndarray, size: int, neighbours: int, seed: int) -> BlobMemory:
        if len(attrs) == 0:
            raise ValueError(
                "no moving blob in the training footage: the velocity model needs footage in "
                "which the camera's usual traffic moves"
            )
        spread = attrs.std(axis=0) + 1e-6
        if len(attrs) > size:
            attrs = attrs[np.random.default_rng(seed).choice(len(attrs), size, replace=False)]
        return cls((attrs / spread).astype(np.float32), spread.astype(np.float32), neighbours)

    def distances(self, attrs: np.ndarray) -> np.ndarray:
        """Distance of each blob to its k-th nearest normal blob."""
        if len(attrs) == 0:
            return np.zeros(0)
        x = attrs / self.spread
        d2 = ((x[:, None, :] - self.bank[None]) ** 2).sum(-1)
        k = min(self.neighbours, self.bank.shape[0]) - 1
        return np.sqrt(np.partition(d2, k, axis=1)[:, k])


@dataclass
class VelocityVerdict:
    """A frame's worst blob: its distance, box (internal px) and attributes."""

    novelty: float
    box: tuple[int, int, int, int] | None
    attributes: tuple[float, float, float] | None


@dataclass
class VelocityModel:
    """A fitted velocity model; `score_frames` is pure given the model."""

    config: VelocityConfig
    frame_size: tuple[int, int]
    scale: np.ndarray  # (internal height,) perspective scale per row
    memory: BlobMemory
    calibrator: TailCalibrator
    metadata: dict = field(default_factory=dict)

    @property
    def context_frames(self) -> int:
        return 1 + smoothing_radius(self.config.smoothing_frames)

    def verdicts(self, greys: Sequence[np.ndarray]) -> list[VelocityVerdict]:
        """Worst blob of every frame of a continuous grey sequence (the first has no motion)."""
        out = []
        for flow in clip_flows(greys):
            attrs, boxes = blob_attributes(
                flow, self.scale, self.config.motion_ratio, self.config.min_area
            )
            d = self.memory.distances(attrs)
            if len(d) == 0:
                out.append(VelocityVerdict(0.0, None, None))
                continue
            worst = int(np.argmax(d))
            box = tuple(int(v) for v in boxes[worst])
            out.append(VelocityVerdict(float(d[worst]), box, tuple(map(float, attrs[worst]))))
        return out

    def frame_novelty(self, greys: Sequence[np.ndarray]) -> np.ndarray:
        return np.array([v.novelty for v in self.verdicts(greys)], dtype=np.float64)

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

    def summary(self) -> str:
        return (
            f"{self.metadata.get('blobs_seen', 0):,} normal moving blobs, perspective scale "
            f"{self.scale.min():.2f}-{self.scale.max():.2f} px/frame"
        )

    def save(self, directory: Path) -> None:
        doc = {
            "format_version": FORMAT_VERSION,
            "kind": "vad.velocity",
            "config": self.config.model_dump(mode="json"),
            "frame_size": list(self.frame_size),
            "scale": self.scale.tolist(),
            "attributes": list(_ATTRIBUTES),
            "bank": self.memory.bank.tolist(),
            "spread": self.memory.spread.tolist(),
            "calibration": self.calibrator.to_dict(),
            "metadata": self.metadata,
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
        config = VelocityConfig.model_validate(doc["config"])
        memory = BlobMemory(
            np.asarray(doc["bank"], np.float32).reshape(-1, len(_ATTRIBUTES)),
            np.asarray(doc["spread"], np.float32),
            config.neighbours,
        )
        return cls(
            config,
            (int(doc["frame_size"][0]), int(doc["frame_size"][1])),
            np.asarray(doc["scale"], np.float32),
            memory,
            TailCalibrator.from_dict(doc["calibration"]),
            doc.get("metadata", {}),
        )


def fit_velocity_from_greys(
    clips: Sequence[Sequence[np.ndarray]],
    frame_size: tuple[int, int],
    config: VelocityConfig | None = None,
) -> VelocityModel:
    """Fit on grey clips already at `config.width` (see `to_grey`); one clip = continuous."""
    config = config or VelocityConfig()
    started = time.perf_counter()
    flows = [clip_flows(c) for c in clips if len(c) > 0]
    if not flows:
        raise ValueError("no training frames")
    scale = perspective_scale(
        [f for clip in flows for f in clip[1:]] or flows[0], config.speed_quantile
    )
    per_frame = [
        [blob_attributes(f, scale, config.motion_ratio, config.min_area)[0] for f in clip]
        for clip in flows
    ]
    pieces = _pieces(per_frame, config.calibration_folds)
    held = _held_out_novelty(pieces, config)
    calibrator = TailCalibrator.fit(
        np.concatenate([smooth_scores(h, config.smoothing_frames, True) for h in held]),
        config.tail_quantile,
        config.reference_quantile,
    )
    everything = np.concatenate([a for clip in per_frame for a in clip])
    memory = BlobMemory.build(everything, config.memory, config.neighbours, config.seed)
    metadata = {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fit_seconds": round(time.perf_counter() - started, 3),
        "frames_seen": sum(len(c) for c in per_frame),
        "blobs_seen": int(len(everything)),
    }
    return VelocityModel(config, frame_size, scale, memory, calibrator, metadata)


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


def _pieces(per_frame: list[list[np.ndarray]], folds: int) -> list[list[np.ndarray]]:
    """Clips cut in halves (longest first) until there are `folds` pieces to hold out."""
    pieces = [p for p in per_frame if p]
    while len(pieces) < folds and max(len(p) for p in pieces) >= 2:
        longest = max(range(len(pieces)), key=lambda i: len(pieces[i]))
        clip = pieces.pop(longest)
        pieces += [clip[: len(clip) // 2], clip[len(clip) // 2 :]]
    return pieces


def _held_out_novelty(pieces: list[list[np.ndarray]], config: VelocityConfig) -> list[np.ndarray]:
    """Per piece, frame novelty against a memory built without that piece's fold (contiguous
    pieces: neighbouring frames look alike, a random split would self-match)."""
    folds = min(config.calibration_folds, len(pieces))
    fold = np.minimum(np.arange(len(pieces)) * folds // len(pieces), folds - 1)
    out: list[np.ndarray] = [np.zeros(0)] * len(pieces)
    for f in range(folds):
        train = [a for p, g in zip(pieces, fold, strict=True) if g != f for a in p]
        memory = BlobMemory.build(
            np.concatenate(train), config.memory, config.neighbours, config.seed
        )
        for i, piece in enumerate(pieces):
            if fold[i] == f:
                out[i] = np.array([memory.distances(a).max(initial=0.0) for a in piece])
    return out
