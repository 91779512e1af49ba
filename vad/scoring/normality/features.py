"""Feature families: per-cell descriptors of what happens between a frame and an earlier one.

A family turns a `FramePair` (earlier and current frame at the model's internal resolution) into
an array of shape (cells, dims). Each family gets its own per-cell memory in the model, so a new
family (e.g. a CLIP-like embedding of moving regions, with cells = 1 for a global embedding) only
has to implement `FeatureFamily` and be added to `make_family`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property

import cv2
import numpy as np

from vad.scoring.normality.config import NormalityConfig
from vad.scoring.stabilise import without_drift

_MIN_MOTION = 0.05  # internal px: below DIS's sub-pixel noise, a floor only for still footage


def internal_size(width: int, height: int, config: NormalityConfig) -> tuple[int, int]:
    """(width, height) of the internal grey image: never upscaled, snapped to whole cells."""
    cell = config.cell_px
    target_w = min(config.internal_width, width)
    cols = max(1, round(target_w / cell))
    rows = max(1, round(height * (cols * cell) / width / cell))
    return cols * cell, rows * cell


def to_internal(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """BGR (or grey) frame -> grey uint8 at `size`.

    Grey first: both steps are linear, so the order does not change the result beyond rounding,
    but area-resizing one channel instead of three is what an HD frame costs most (2.2 ms
    instead of 3.7 ms at 1280x720 on one core).
    """
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


class FramePair:
    """An earlier and the current internal frame (`flow_gap` apart when scoring); derived maps
    (flow) are computed once and shared by the families. `stabilised`: the earlier frame was
    aligned (`align_previous`) and the flow's remaining drift is removed (`without_drift`)."""

    def __init__(
        self,
        prev: np.ndarray,
        cur: np.ndarray,
        flow_engine: cv2.DISOpticalFlow,
        stabilised: bool = False,
    ) -> None:
        self.prev = prev
        self.cur = cur
        self._engine = flow_engine
        self._stabilised = stabilised

    @cached_property
    def flow(self) -> np.ndarray:
        flow = self._engine.calc(self.prev, self.cur, None)
        return without_drift(flow) if self._stabilised else flow


def flow_magnitude_quantile(flows: Sequence[np.ndarray], quantile: float) -> float:
    """`quantile` of the flow magnitude over every pixel of `flows` (each (H, W, 2)).

    Most pixels of a fixed camera are still, so a high quantile sits just inside the fastest
    normal motion of this camera; unlike a fixed number of pixels it follows the camera's
    resolution, frame rate and scale. Floored so a camera that never moves cannot get a zero
    threshold (every flow-noise pixel would then count as moving).
    """
    if not flows:
        return _MIN_MOTION
    mags = np.concatenate([np.hypot(f[..., 0], f[..., 1]).ravel() for f in flows])
    return max(float(np.quantile(mags, quantile)), _MIN_MOTION)


def cell_mean(image: np.ndarray, cell: int) -> np.ndarray:
    """Mean of each cell x cell block; (H, W[, C]) -> (H/cell, W/cell[, C])."""
    h, w = image.shape[:2]
    blocks = image.reshape(h // cell, cell, w // cell, cell, *image.shape[2:])
    return blocks.mean(axis=(1, 3))


def cell_max(image: np.ndarray, cell: int) -> np.ndarray:
    h, w = image.shape[:2]
    return image.reshape(h // cell, cell, w // cell, cell).max(axis=(1, 3))


def quadrants(blocks: np.ndarray, stride: int) -> list[np.ndarray]:
    """The 4 sub-blocks (top-left, top-right, bottom-left, bottom-right) of every 2 x 2 group of
    (R, C, D) sub-blocks, groups starting every `stride` sub-blocks: stride 2 = disjoint cells,
    stride 1 = cells overlapping by half a cell ((R - 1) x (C - 1) of them)."""
    rows, cols = blocks.shape[0] - 1, blocks.shape[1] - 1
    return [blocks[r : r + rows : stride, c : c + cols : stride] for r in (0, 1) for c in (0, 1)]


def sub_block_histograms(
    weight: np.ndarray, bin_index: np.ndarray, sub: int, bins: int
) -> np.ndarray:
    """(H, W) weights binned by (H, W) bin index per sub x sub block -> (H/sub, W/sub, bins) sums.

    One bincount over the whole image; the `shape` family groups these half-cell blocks into cells
    (2 x 2 of them), which makes overlapping cells as cheap as disjoint ones.
    """
    h, w = weight.shape
    rows, cols = h // sub, w // sub
    block = (np.arange(h) // sub)[:, None] * cols + (np.arange(w) // sub)[None, :]
    sums = np.bincount(
        (block * bins + bin_index).ravel(), weight.ravel(), minlength=rows * cols * bins
    )
    return sums.reshape(rows, cols, bins)


class FeatureFamily(ABC):
    """One kind of per-cell descriptor; stateless so windows can be scored in any order."""

    name: str = "family"
    feature_names: tuple[str, ...] = ()

    def __init__(self, config: NormalityConfig, motion_threshold: float) -> None:
        self.config = config
        self.motion_threshold = motion_threshold  # learned per camera, see `motion_threshold`

    @abstractmethod
    def extract(self, pair: FramePair) -> np.ndarray:
        """(cells, len(feature_names)) float32 descriptors of the current frame."""

    def active(self, features: np.ndarray) -> np.ndarray:
        """Mask of (.., cells) samples that carry information, used to set feature scales."""
        return np.ones(features.shape[:-1], dtype=bool)

    def grid(self, internal: tuple[int, int]) -> tuple[int, int]:
        """(rows, cols) of the cells `extract` returns (row-major) for an internal (width,
        height): where each cell sits, for what spreads to a cell's neighbours."""
        return internal[1] // self.config.cell_px, internal[0] // self.config.cell_px


class FlowFamily(FeatureFamily):
    """Dense-flow statistics per cell: how much moves, how fast the moving part goes, which way.

    Speed of the moving pixels is kept separate from the moving fraction so that a fast small
    object (bicycle, skateboard) and a large slow one (cart, crowd) both stand out against the
    per-cell history of walking people.
    """

    name = "flow"
    feature_names = ("mean_mag", "moving_frac", "moving_speed", "moving_dx", "moving_dy", "max_mag")

    def extract(self, pair: FramePair) -> np.ndarray:
        cell = self.config.cell_px
        flow = pair.flow
        mag = np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2)
        moving = (mag > self.motion_threshold).astype(np.float32)
        frac = cell_mean(moving, cell)
        sums = cell_mean(
            np.dstack([mag, mag * moving, flow[..., 0] * moving, flow[..., 1] * moving]), cell
        )
        denom = np.maximum(frac, 1e-6)[..., None]
        per_moving = sums[..., 1:] / denom
        feats = np.dstack([sums[..., 0], frac, per_moving, cell_max(mag, cell)])
        return feats.reshape(-1, len(self.feature_names)).astype(np.float32)

    def active(self, features: np.ndarray) -> np.ndarray:
        return features[..., 1] > 0.05


class AppearanceFamily(FeatureFamily):
    """Edge-orientation histogram per cell (HOG-like) of the current frame.

    The scene of a fixed camera is static, so each cell's normal appearances are few (background,
    background + part of a pedestrian); a differently shaped object (wheels, a cart's box) changes
    the orientation mix even when it moves at walking speed, which flow alone cannot see.
    """

    name = "appearance"
    bins = 8
    feature_names = tuple(f"grad_{i * 180 // 8}deg" for i in range(8))

    def extract(self, pair: FramePair) -> np.ndarray:
        cell = self.config.cell_px
        img = pair.cur.astype(np.float32)
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
        mag, ang = cv2.cartToPolar(gx, gy, angleInDegrees=True)
        idx = ((ang % 180.0) * (self.bins / 180.0)).astype(np.int32) % self.bins
        planes = np.zeros((*img.shape, self.bins), np.float32)
        np.put_along_axis(planes, idx[..., None], mag[..., None], axis=2)
        return cell_mean(planes, cell).reshape(-1, self.bins) / 255.0


class ShapeFamily(FeatureFamily):
    """What moves, by its outline and its motion: HOG of the moving pixels + HOF per cell.

    Gradients are kept only where the flow says something moves, so the static scene (which the
    memory would otherwise have to explain) contributes nothing and a still cell is the zero
    vector. What is left describes the outline of whatever crosses the cell: a walker is mostly
    vertical edges, a wheel or a cart's box adds other orientations in other parts of the cell,
    even when it moves at walking speed. Each cell gives 2 x 2 sub-blocks x 8 edge orientations
    (magnitude-weighted) plus an 8-direction histogram of the flow itself (magnitude-weighted, so
    speed and heading are kept: a runner or a car differs from walkers by motion, not outline).
    Everything is one joint vector, so the nearest normal example must match outline and motion
    at once. With `overlapping_cells` (default) cells start every half cell, like HOG's
    overlapping blocks, so an object on a cell border is also described whole by the cell centred
    on it.
    """

    name = "shape"
    bins = 8
    feature_names = tuple(
        f"edge_q{q}_{i * 180 // 8}deg" for q in range(4) for i in range(8)
    ) + tuple(f"flow_{i * 360 // 8}deg" for i in range(8))

    def extract(self, pair: FramePair) -> np.ndarray:
        cell, bins = self.config.cell_px, self.bins
        img = pair.cur.astype(np.float32)
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
        mag, ang = cv2.cartToPolar(gx, gy, angleInDegrees=True)
        fmag, fang = cv2.cartToPolar(pair.flow[..., 0], pair.flow[..., 1], angleInDegrees=True)
        moving = fmag > self.motion_threshold
        mag *= moving
        fmag *= moving
        # Histograms per half-cell sub-block (one bincount each), then grouped 2 x 2 into cells.
        sub = cell // 2
        edges = sub_block_histograms(mag, (ang * (bins / 180.0)).astype(np.int32) % bins, sub, bins)
        flows = sub_block_histograms(
            fmag, (fang * (bins / 360.0)).astype(np.int32) % bins, sub, bins
        )
        stride = 1 if self.config.overlapping_cells else 2
        quads = quadrants(edges, stride)
        out = np.concatenate([*quads, sum(quadrants(flows, stride)) / 4.0], axis=-1) / (sub * sub)
        out[..., : 4 * bins] /= 255.0  # edge magnitudes in grey levels
        return out.reshape(-1, 5 * bins).astype(np.float32)

    def active(self, features: np.ndarray) -> np.ndarray:
        return features.sum(axis=-1) > 0

    def grid(self, internal: tuple[int, int]) -> tuple[int, int]:
        sub, stride = self.config.cell_px // 2, 1 if self.config.overlapping_cells else 2
        rows, cols = internal[1] // sub - 1, internal[0] // sub - 1
        return len(range(0, rows, stride)), len(range(0, cols, stride))


def make_family(name: str, config: NormalityConfig, motion_threshold: float) -> FeatureFamily:
    """Family instance by registered name (kept explicit: no import-time registry)."""
    match name:
        case "flow":
            return FlowFamily(config, motion_threshold)
        case "appearance":
            return AppearanceFamily(config, motion_threshold)
        case "shape":
            return ShapeFamily(config, motion_threshold)
    raise ValueError(f"unknown feature family {name!r} (known: flow, appearance, shape)")
