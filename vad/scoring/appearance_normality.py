"""Learned-appearance normality: what each part of this camera's view usually looks like, in a
pretrained image encoder's embedding space (MobileNetV2 ImageNet features by default, or CLIP).

The pixel model (`vad/scoring/normality`) describes what moves faster than the camera's normal
motion by hand-made outlines; a cart or a bicycle at walking pace stays under its threshold and
looks, to it, like nothing (docs/benchmarks-normality.md). A learned image embedding separates
"bicycle" from "walker" whatever the speed. This model is the pixel model's appearance family for
when an image encoder is installed (issue 4 item 1): each frame is cut into square tiles covering
the view (`tile_rows` rows; columns overlap as needed, so tiles stay square and are not cropped by
the encoder's centre crop), every tile is embedded, and a tile's novelty is the cosine distance to
the nearest normal embedding of the same tile, in units of that tile's held-out reference
distance (`reference_quantile` of held-out training distances, floored at the median tile so a
tile that never changes cannot turn encoder noise into alarms). The worst tile decides; it is
calibrated with the pixel model's `TailCalibrator` on held-out contiguous folds, so 0.5 means as
rare as the reference quantile of normal footage.

Fitted at `vad camera learn` when the encoder is installed, stored next to the pixel model and
fused by max in the worker, as the object model is.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vad.scoring.normality.calibration import TailCalibrator, contiguous_folds
from vad.scoring.normality.memory import cell_scales

FORMAT_VERSION = 1
APPEARANCE_JSON = "appearance.json"
_BANK_NPZ = "appearance.npz"


class AppearanceNormalityConfig(BaseModel):
    """Per-camera appearance model fitted at `vad camera learn` when its image encoder is
    installed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False,
        description=(
            "Fit an appearance model with the camera's normality model when its encoder "
            "(`encoder`) is installed, and fuse its score into the frame score. Costs one encoder "
            "pass per tile and frame in the worker. Off by default since issue 17's object round: "
            "beside the velocity and object models it lowered UCSD Ped1 (0.869 -> 0.863 pooled, "
            "0.887 -> 0.878 per video), raised Ped2 by 0.002, and cost ~3x the fit and ~10x the "
            "scoring time (docs/benchmarks-normality.md, the object round)."
        ),
    )
    encoder: str = Field(
        "mobilenetv2",
        description=(
            "Installed encoder that embeds the tiles (folder under <model_dir>/encoders): "
            "`mobilenetv2` (ImageNet features; measured on UCSD Ped2, docs/benchmarks-normality"
            ".md), `efficientnet-lite2` (260 px, 2.3x the cost, lower AUC on Ped2: docs/"
            "benchmarks.md) or a CLIP "
            "model such as `clip-vit-b32`. Install it with `vad models pull NAME "
            "&& vad models export NAME`; changing it means relearning the cameras."
        ),
    )
    tile_rows: int = Field(
        2,
        ge=1,
        le=8,
        description=(
            "Rows of square tiles the view is cut into (a 4:3 frame gives 2 x 3 tiles, 16:9 "
            "2 x 4); more rows see smaller objects at proportionally more encoder cost."
        ),
    )
    learn_every: int = Field(
        2,
        ge=1,
        le=100,
        description=(
            "Embed every n-th learning frame: neighbouring frames look alike, and the encoder is "
            "the expensive part of learning on a CPU."
        ),
    )
    memory_per_tile: int = Field(
        2048, ge=16, description="Normal embeddings kept per tile (evenly subsampled beyond it)."
    )
    folds: int = Field(
        4, ge=2, le=16, description="Contiguous folds of training frames for held-out calibration."
    )
    reference_quantile: float = Field(
        0.99,
        gt=0.5,
        lt=1,
        description="Held-out training quantile that maps to 0.5 (as in the pixel model).",
    )
    tail_quantile: float = Field(
        0.9,
        gt=0.5,
        lt=1,
        description="Above this training quantile the calibrator models an exponential tail.",
    )


def tile_boxes(width: int, height: int, rows: int) -> list[tuple[int, int, int, int]]:
    """Square (x0, y0, x1, y1) tiles covering the frame, row-major: side = short side / rows,
    evenly spread along each axis with as little overlap as covering needs."""
    side = max(1, min(width, height) // rows)
    xs = _starts(width, side)
    ys = _starts(height, side)
    return [(x, y, x + side, y + side) for y in ys for x in xs]


def _starts(length: int, side: int) -> list[int]:
    count = max(1, math.ceil(length / side))
    if count == 1:
        return [0]
    return [round(i * (length - side) / (count - 1)) for i in range(count)]


def tiles_of(frame: np.ndarray, rows: int) -> list[np.ndarray]:
    """The frame's tiles (views, no copy), in `tile_boxes` order."""
    h, w = frame.shape[:2]
    return [frame[y0:y1, x0:x1] for x0, y0, x1, y1 in tile_boxes(w, h, rows)]


def embed_tiles(encoder, frames: Sequence[np.ndarray], rows: int) -> np.ndarray:
    """(N, tiles, dim) unit embeddings of every frame's tiles, in one encoder batch run."""
    if not frames:
        return np.zeros((0, 0, encoder.dim), np.float32)
    crops = [tile for frame in frames for tile in tiles_of(frame, rows)]
    return encoder.embed_images(crops).reshape(len(frames), -1, encoder.dim)


def where(index: int, boxes: list[tuple[int, int, int, int]], size: tuple[int, int]) -> str:
    """'top left', 'bottom centre', ... of tile `index` in a (width, height) frame."""
    x0, y0, x1, y1 = boxes[index]
    cx, cy = (x0 + x1) / 2 / size[0], (y0 + y1) / 2 / size[1]
    vertical = "top" if cy < 0.4 else "bottom" if cy > 0.6 else "middle"
    horizontal = "left" if cx < 0.4 else "right" if cx > 0.6 else "centre"
    return f"{vertical} {horizontal}"


@dataclass(frozen=True, slots=True)
class AppearanceVerdict:
    """A frame's appearance score and what decided it (None when nothing is unusual)."""

    score: float
    reason: str | None


def tile_distances(bank: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Cosine distance of each (N, T, D) tile embedding to the nearest of its tile's (T, M, D)
    normal embeddings -> (N, T)."""
    similarity = np.einsum("ntd,tmd->ntm", embeddings, bank)
    return 1.0 - similarity.max(axis=2)


class AppearanceNormalityModel:
    """Fitted appearance model of one camera; `score` is pure given the model."""

    def __init__(
        self,
        config: AppearanceNormalityConfig,
        encoder: str,
        frame_size: tuple[int, int],
        bank: np.ndarray,
        references: np.ndarray,
        calibrator: TailCalibrator,
        metadata: dict | None = None,
    ) -> None:
        self.config = config
        self.encoder = encoder
        self.frame_size = frame_size
        self.bank = bank.astype(np.float32)
        self.references = references.astype(np.float64)
        self.calibrator = calibrator
        self.metadata = metadata or {}
        self.boxes = tile_boxes(*frame_size, config.tile_rows)

    def score(self, embeddings: np.ndarray) -> list[AppearanceVerdict]:
        """One verdict per frame of (N, tiles, dim) tile embeddings (one calibration call)."""
        if embeddings.shape[1:] != (self.bank.shape[0], self.bank.shape[2]):
            raise ValueError(
                f"appearance model expects {self.bank.shape[0]} tiles of dim {self.bank.shape[2]}"
                f", got {embeddings.shape[1:]} (frame size or encoder changed; relearn)"
            )
        ratios = tile_distances(self.bank, embeddings) / self.references
        worst = ratios.argmax(axis=1)
        scores = self.calibrator(ratios.max(axis=1))
        return [
            AppearanceVerdict(float(s), self._reason(int(k), float(r[k])) if s >= 0.5 else None)
            for s, k, r in zip(scores, worst, ratios, strict=True)
        ]

    def extend(
        self, clips: Sequence[Sequence[np.ndarray]], encoder, recalibrate: bool = True
    ) -> AppearanceNormalityModel:
        """A new model that also knows `clips` (BGR, e.g. a false alarm's frames) as normal:
        their tile embeddings (every `learn_every`-th frame, by the tile `encoder` this model
        was fitted with) are appended to each tile's bank; see `extend_embeddings`."""
        if encoder.name != self.encoder:
            raise ValueError(f"appearance model of {self.encoder!r} cannot learn {encoder.name!r}")
        step, rows = self.config.learn_every, self.config.tile_rows
        parts = [embed_tiles(encoder, list(c)[::step], rows) for c in clips if len(c)]
        if not parts:
            raise ValueError("no frames to learn from")
        return self.extend_embeddings(np.concatenate(parts), recalibrate)

    def extend_embeddings(
        self, embeddings: np.ndarray, recalibrate: bool = True
    ) -> AppearanceNormalityModel:
        """(N, tiles, dim) new normal embeddings appended to the banks (at most a quarter of
        `memory_per_tile` per update); if `recalibrate`, the calibrator is refitted with their
        held-out scores (contiguous folds, each against the banks plus the other folds); else it
        is kept."""
        started = time.perf_counter()
        new = np.asarray(embeddings, np.float32)
        if new.shape[1:] != (self.bank.shape[0], self.bank.shape[2]):
            raise ValueError(
                f"appearance model expects {self.bank.shape[0]} tiles of dim {self.bank.shape[2]}"
                f", got {new.shape[1:]} (frame size or encoder changed; relearn)"
            )
        limit = max(1, self.config.memory_per_tile // 4)
        seen = int(self.metadata.get("frames_seen", 0))
        calibrator = (
            self.calibrator.merged(self._held_out(new, limit), seen)
            if recalibrate
            else self.calibrator
        )
        metadata = {
            **self.metadata,
            "frames_seen": seen + len(new),
            "frames_added": len(new),
            "extended_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "extend_seconds": round(time.perf_counter() - started, 3),
        }
        bank = np.concatenate([self.bank, _bank(new, limit)], axis=1)
        return AppearanceNormalityModel(
            self.config,
            self.encoder,
            self.frame_size,
            bank,
            self.references,
            calibrator,
            metadata,
        )

    def _held_out(self, new: np.ndarray, limit: int) -> np.ndarray:
        """The new frames' worst tile ratio, each contiguous fold against the banks plus the
        other folds."""
        folds = max(1, min(self.config.folds, len(new)))
        fold = contiguous_folds(len(new), folds)
        held = np.zeros(new.shape[:2])
        for g in range(folds):
            inside = fold == g
            rest = [self.bank] + ([_bank(new[~inside], limit)] if (~inside).any() else [])
            held[inside] = tile_distances(np.concatenate(rest, axis=1), new[inside])
        return (held / self.references).max(axis=1)

    def _reason(self, tile: int, ratio: float) -> str:
        return (
            f"the {where(tile, self.boxes, self.frame_size)} of the view looks unlike anything "
            f"this camera showed there ({ratio:.1f}x the usual distance)"
        )

    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        np.savez_compressed(directory / _BANK_NPZ, bank=self.bank, references=self.references)
        doc = {
            "format_version": FORMAT_VERSION,
            "kind": "vad.appearance",
            "encoder": self.encoder,
            "frame_size": list(self.frame_size),
            "config": self.config.model_dump(mode="json"),
            "calibration": self.calibrator.to_dict(),
            "metadata": self.metadata,
        }
        path = directory / APPEARANCE_JSON
        path.write_text(json.dumps(doc, indent=2))
        return path

    @classmethod
    def load(cls, directory: Path) -> AppearanceNormalityModel:
        directory = Path(directory)
        doc = json.loads((directory / APPEARANCE_JSON).read_text())
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"appearance model format {doc.get('format_version')!r} in {directory} is not the "
                f"supported format {FORMAT_VERSION}; refit it (vad camera learn) with this version"
            )
        with np.load(directory / _BANK_NPZ, allow_pickle=False) as data:
            bank, references = data["bank"], data["references"]
        return cls(
            AppearanceNormalityConfig.model_validate(doc["config"]),
            doc["encoder"],
            (int(doc["frame_size"][0]), int(doc["frame_size"][1])),
            bank,
            references,
            TailCalibrator.from_dict(doc["calibration"]),
            doc.get("metadata", {}),
        )

    def summary(self) -> str:
        tiles, kept, _ = self.bank.shape
        rows = self.config.tile_rows
        return (
            f"{tiles} tiles ({rows} row{'s' if rows > 1 else ''}), {kept:,} normal views each, "
            f"from {self.metadata.get('frames_seen', '?')} frames"
        )


# ------------------------------------------------------------------------------------- fitting


def _bank(embeddings: np.ndarray, limit: int) -> np.ndarray:
    """(N, T, D) -> (T, M, D), evenly subsampled to at most `limit` frames."""
    if len(embeddings) > limit:
        embeddings = embeddings[np.linspace(0, len(embeddings) - 1, limit).astype(int)]
    return np.ascontiguousarray(embeddings.transpose(1, 0, 2))


def fit_appearance_model(
    clips: Sequence[np.ndarray],
    encoder: str,
    frame_size: tuple[int, int],
    config: AppearanceNormalityConfig | None = None,
) -> AppearanceNormalityModel:
    """Fit on the tile embeddings of normal footage: one (N, tiles, dim) array per clip."""
    config = config or AppearanceNormalityConfig()
    parts = [c for c in clips if len(c)]
    if not parts:
        raise ValueError("no training frames for the appearance model")
    frames = np.concatenate(parts).astype(np.float32)
    if len(frames) < config.folds:
        raise ValueError(
            f"the appearance model needs at least {config.folds} embedded frames, got "
            f"{len(frames)} (learn from more footage or lower appearance.learn_every)"
        )
    fold = contiguous_folds(len(frames), config.folds)
    held = np.zeros(frames.shape[:2])
    for g in range(config.folds):
        inside = fold == g
        bank = _bank(frames[~inside], config.memory_per_tile)
        held[inside] = tile_distances(bank, frames[inside])
    references = cell_scales(held, config.reference_quantile)
    calibrator = TailCalibrator.fit(
        (held / references).max(axis=1), config.tail_quantile, config.reference_quantile
    )
    metadata = {
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "frames_seen": len(frames),
        "tiles": int(frames.shape[1]),
    }
    return AppearanceNormalityModel(
        config,
        encoder,
        frame_size,
        _bank(frames, config.memory_per_tile),
        references,
        calibrator,
        metadata,
    )
