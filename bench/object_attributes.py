"""Research for the object-centric stage 1 (issue 17): per-object velocity attributes (detections +
moving blobs, flow inside the box over the camera's normal speed there), kNN density, held-out
calibration (attribute-based VAD, Reiss & Hoshen 2022). Not in the product: on Ped2 no variant
raised the fused stage 1 (docs/benchmarks-normality.md, the object round). Runs on cached flows
(bench/stage1_cache.py) and cached detections
(/tmp/objects-work/det/<dataset>/<split>/<video>.json, the default SSD at confidence >= 0.2).

    OMP_NUM_THREADS=1 nice -n 10 python bench/object_attributes.py --test ucsd_ped2 ucsd_ped1

`--test` reads test labels (a look: log it in docs/benchmarks-normality.md); the fused figure
uses the per-term scores of a `vad eval suite --scores-out` run (SUITE below).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vad.encoders.detectors import Detection  # noqa: E402
from vad.eval.metrics import frame_metrics  # noqa: E402
from vad.scoring.fusion import fuse  # noqa: E402
from vad.scoring.normality.calibration import TailCalibrator  # noqa: E402
from vad.scoring.normality.smoothing import smooth_scores  # noqa: E402
from vad.scoring.velocity import normal_speeds  # noqa: E402


class AttributeConfig(BaseModel):
    """What makes an object and its attributes (research defaults of the first look)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_confidence: float = Field(0.4, ge=0, le=1, description="Detections kept from here on.")
    blobs: bool = Field(
        True,
        description=(
            "Also treat moving blobs (connected regions where the flow is at least `blob_ratio` "
            "of the camera's normal speed there) that no detection covers as objects: moving "
            "things the detector misses (a skateboarder, a cart of an unknown class)."
        ),
    )
    blob_ratio: float = Field(
        0.5, gt=0, le=4, description="Flow speed over normal speed above which a pixel moves."
    )
    blob_min_px: int = Field(
        12, ge=1, description="Smallest blob kept, in pixels of the velocity model's frame."
    )
    neighbours: int = Field(
        1, ge=1, le=16, description="k of the kNN density over object attributes."
    )
    moving_ratio: float = Field(
        0.0,
        ge=0,
        le=4,
        description=(
            "An object's flow is averaged over its pixels moving at >= this fraction of the "
            "normal speed there (0: every pixel of its box)."
        ),
    )
    shape_attributes: bool = Field(
        False, description="Add box aspect, size over the normal speed there and moving fraction."
    )
    velocity_memory: int = Field(
        20000, ge=64, description="Training objects kept for the velocity kNN (even subsample)."
    )


ORIENTATION_BINS = 8


def moving_blobs(
    speed: np.ndarray, normal_px: np.ndarray, ratio: float, min_px: int
) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) internal-px boxes of the connected regions moving at >= `ratio` of the
    normal speed there (`normal_px`: the normal speed per pixel)."""
    mask = (speed >= ratio * normal_px).astype(np.uint8)
    if not mask.any():
        return []
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [
        (int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, area in stats[1:] if area >= min_px
    ]


def object_boxes(
    detections: Sequence[Detection],
    speed: np.ndarray,
    normal_px: np.ndarray,
    config: AttributeConfig,
) -> list[tuple[int, int, int, int]]:
    """A frame's objects as internal-px boxes: its relevant detections, then the moving blobs
    whose centre no detection covers."""
    h, w = speed.shape
    boxes = []
    for d in detections:
        if d.confidence < config.min_confidence:
            continue
        x0, y0, x1, y1 = d.box
        bx = (
            int(x0 * w),
            int(y0 * h),
            max(int(x0 * w) + 1, round(x1 * w)),
            max(int(y0 * h) + 1, round(y1 * h)),
        )
        boxes.append(bx)
    if config.blobs:
        for b in moving_blobs(speed, normal_px, config.blob_ratio, config.blob_min_px):
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            if not any(x0 <= cx < x1 and y0 <= cy < y1 for x0, y0, x1, y1 in boxes):
                boxes.append(b)
    return boxes


def velocity_attributes(
    flow: np.ndarray,
    boxes: Sequence[tuple[int, int, int, int]],
    normal_px: np.ndarray,
    moving_ratio: float = 0.0,
    shape: bool = False,
) -> np.ndarray:
    """(N, ORIENTATION_BINS [+ 3]) per box: the mean flow speed per orientation bin inside the
    box (over its pixels moving at >= `moving_ratio` of the normal speed there, all pixels when
    0), over the normal speed of the box's place (a magnitude-weighted orientation histogram, as
    in attribute-based VAD, in units of what this camera shows there). `shape` adds the box's
    log aspect, its log height over the normal speed there (perspective: both grow with the
    row) and the fraction of its pixels that move."""
    dims = ORIENTATION_BINS + (3 if shape else 0)
    out = np.zeros((len(boxes), dims), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        f = flow[y0:y1, x0:x1].reshape(-1, 2).astype(np.float32)
        if not len(f):
            continue
        local = normal_px[y0:y1, x0:x1].reshape(-1)
        scale = max(float(local.mean()), 1e-3)
        speed = np.hypot(f[:, 0], f[:, 1])
        moving = speed >= moving_ratio * local
        if moving_ratio > 0 and moving.any():
            f, speed = f[moving], speed[moving]
        angle = np.arctan2(f[:, 1], f[:, 0])
        bins = ((angle + np.pi) / (2 * np.pi) * ORIENTATION_BINS).astype(int) % ORIENTATION_BINS
        hist = np.bincount(bins, weights=speed, minlength=ORIENTATION_BINS) / len(f)
        out[i, :ORIENTATION_BINS] = hist / scale
        if shape:
            w, h = max(x1 - x0, 1), max(y1 - y0, 1)
            out[i, ORIENTATION_BINS:] = (np.log(h / w), np.log(h / scale), moving.mean())
    return out


def normal_per_pixel(normal: np.ndarray, cell: int, shape: tuple[int, int]) -> np.ndarray:
    """The velocity model's (rows, cols) normal cell speeds spread to (H, W) pixels (edge pixels
    outside whole cells take the nearest cell)."""
    px = np.repeat(np.repeat(normal, cell, axis=0), cell, axis=1)
    h, w = shape
    px = np.pad(px, ((0, max(0, h - px.shape[0])), (0, max(0, w - px.shape[1]))), mode="edge")
    return px[:h, :w]


def knn_distance(bank: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Mean Euclidean distance of each query to its k nearest bank rows."""
    if not len(queries):
        return np.zeros(0)
    if not len(bank):
        return np.full(len(queries), np.inf)
    d2 = (queries**2).sum(1)[:, None] + (bank**2).sum(1)[None, :] - 2.0 * queries @ bank.T
    k = min(k, len(bank))
    near = np.partition(d2, k - 1, axis=1)[:, :k] if k > 1 else d2.min(axis=1, keepdims=True)
    return np.sqrt(np.maximum(near, 0.0)).mean(axis=1)


CACHE = Path("/tmp/stage1-cache")
DETS = Path("/tmp/objects-work/det")
SUITE = Path("/tmp/suite-after")
CELL = 8


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    return frame_metrics(y, s)["auc"]


def load(dataset: str, split: str):
    out = {}
    for f in sorted((CACHE / dataset / split).glob("*.npz")):
        flow = np.load(f)["flow"]
        dets = json.loads((DETS / dataset / split / f"{f.stem}.json").read_text())
        found = [[Detection(c, p, tuple(b)) for c, p, b in frame] for frame in dets]
        out[f.stem] = (flow, found)
    return out


def cells(flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[1] // CELL * CELL, flow.shape[2] // CELL * CELL
    sp = np.hypot(flow[:, :h, :w, 0].astype(np.float32), flow[:, :h, :w, 1].astype(np.float32))
    return sp.reshape(len(flow), h // CELL, CELL, w // CELL, CELL).mean(axis=(2, 4))


def attributes(clip, normal_px, config):
    flow, found = clip
    per_frame = []
    for t in range(len(flow)):
        f = flow[t].astype(np.float32)
        speed = np.hypot(f[..., 0], f[..., 1])
        boxes = object_boxes(found[t], speed, normal_px, config)
        per_frame.append(
            velocity_attributes(f, boxes, normal_px, config.moving_ratio, config.shape_attributes)
        )
    return per_frame


def frame_novelty(per_frame, bank, k):
    return np.array([knn_distance(bank, a, k).max() if len(a) else 0.0 for a in per_frame])


def run(
    dataset: str,
    config: AttributeConfig,
    test: bool,
    folds: int = 4,
    standardise: bool = True,
):
    train, tests = load(dataset, "train"), load(dataset, "test") if test else {}
    speeds = [cells(c[0])[1:] for c in train.values()]
    normal = normal_speeds(np.concatenate(speeds), 0.999)
    shape = next(iter(train.values()))[0].shape[1:3]
    npx = normal_per_pixel(normal, CELL, shape)
    clips = [attributes(c, npx, config) for c in train.values()]
    allf = np.concatenate([a for c in clips for a in c])
    std = np.maximum(allf.std(axis=0), 1e-3) if standardise else np.ones(allf.shape[1])
    clips = [[a / std for a in c] for c in clips]
    # contiguous folds over clips
    fold = np.minimum(np.arange(len(clips)) * folds // len(clips), folds - 1)
    held = []
    for g in range(folds):
        bank = np.concatenate([a for c, f in zip(clips, fold, strict=True) if f != g for a in c])
        bank = bank[
            np.linspace(0, len(bank) - 1, min(len(bank), config.velocity_memory)).astype(int)
        ]
        for c, f in zip(clips, fold, strict=True):
            if f == g:
                held.append(smooth_scores(frame_novelty(c, bank, config.neighbours), 2.0, True))
    cal = TailCalibrator.fit(np.concatenate(held), 0.9, 0.99)
    bank = np.concatenate([a for c in clips for a in c])
    bank = bank[np.linspace(0, len(bank) - 1, min(len(bank), config.velocity_memory)).astype(int)]
    n_objects = len(bank)
    if not test:
        return {"objects": n_objects}
    labels = np.load(SUITE / dataset / "plain" / "labels.npz")
    terms = {
        t: np.load(SUITE / dataset / "plain" / f"stage1-{t}.npz")
        for t in ("pixel", "velocity", "objects", "appearance")
    }
    per_video, per_video_fused, fused_all, lab_all, ours_all = [], [], [], [], []
    summed_all, per_video_sum = [], []
    for name, clip in tests.items():
        s = cal(
            smooth_scores(
                frame_novelty(
                    [a / std for a in attributes(clip, npx, config)], bank, config.neighbours
                ),
                2.0,
                True,
            )
        )
        y = labels[name]
        n = min(len(y), len(s))
        fz = fuse(
            {
                "pixel": terms["pixel"][name][:n],
                "velocity": terms["velocity"][name][:n],
                "objects": s[:n],
            },
            "pixel",
        ).scores
        fs = summed(
            {
                "pixel": terms["pixel"][name][:n],
                "velocity": terms["velocity"][name][:n],
                "objects": s[:n],
            }
        )
        summed_all.append(fs)
        if 0 < y[:n].sum() < n:
            per_video_sum.append(roc_auc(y[:n], fs))
            per_video.append(roc_auc(y[:n], s[:n]))
            per_video_fused.append(roc_auc(y[:n], fz))
        fused_all.append(fz)
        lab_all.append(y[:n])
        ours_all.append(s[:n])
    y = np.concatenate(lab_all)
    return {
        "objects": n_objects,
        "alone": round(roc_auc(y, np.concatenate(ours_all)), 4),
        "alone_video": round(float(np.mean(per_video)), 4),
        "fused_pixel_velocity_attr": round(roc_auc(y, np.concatenate(fused_all)), 4),
        "fused_video": round(float(np.mean(per_video_fused)), 4),
        "sum_pixel_velocity_attr": round(roc_auc(y, np.concatenate(summed_all)), 4),
        "sum_video": round(float(np.mean(per_video_sum)), 4),
    }


VARIANTS3 = {  # look 2 on Ped1: the best of looks 1-2 on Ped2, each with its scaling
    "det0.4+blobs0.5 k1": {"_std": False},
    "det0.3+blobs0.5": {"_std": False, "min_confidence": 0.3},
    "det0.4 only": {"_std": False, "blobs": False},
    "det0.3 only moving0.25 shape": {
        "min_confidence": 0.3,
        "blobs": False,
        "moving_ratio": 0.25,
        "shape_attributes": True,
    },
}
VARIANTS2 = {
    "det0.3+blobs0.5 std": {"min_confidence": 0.3},
    "det0.3+blobs0.5 moving0.25": {"min_confidence": 0.3, "moving_ratio": 0.25},
    "det0.3+blobs0.5 shape": {"min_confidence": 0.3, "shape_attributes": True},
    "det0.3+blobs0.5 moving0.25 shape": {
        "min_confidence": 0.3,
        "moving_ratio": 0.25,
        "shape_attributes": True,
    },
    "det0.3 only moving0.25 shape": {
        "min_confidence": 0.3,
        "blobs": False,
        "moving_ratio": 0.25,
        "shape_attributes": True,
    },
}
VARIANTS1 = {
    "det0.4+blobs0.5 k1": {},
    "det0.4 only": {"blobs": False},
    "det0.3+blobs0.5": {"min_confidence": 0.3},
    "det0.4+blobs0.3": {"blob_ratio": 0.3},
    "det0.4+blobs1.0": {"blob_ratio": 1.0},
    "det0.4+blobs0.5 k3": {"neighbours": 3},
}


def surprise(c: np.ndarray) -> np.ndarray:
    """Calibrated score -> surprise in units of the reference surprise (c / (1 - c))."""
    c = np.clip(np.nan_to_num(c, nan=0.0), 0.0, 1.0 - 1e-9)
    return c / (1.0 - c)


def summed(terms: dict) -> np.ndarray:
    """Sum of the terms' surprises (independent tail probabilities multiplied), squashed."""
    total = sum(surprise(t) for t in terms.values())
    return total / (total + len(terms))


def without_appearance(dataset: str) -> dict:
    """The suite run's fused stage 1 with and without the tile appearance term (a look)."""
    d = SUITE / dataset / "plain"
    labels = np.load(d / "labels.npz")
    terms = {
        t: np.load(d / f"stage1-{t}.npz") for t in ("pixel", "velocity", "objects", "appearance")
    }
    out = {}
    for name, keep in {
        "sum p+v": ("pixel", "velocity"),
        "sum all": ("pixel", "velocity", "objects", "appearance"),
        "sum p+v+a": ("pixel", "velocity", "appearance"),
        "all": ("pixel", "velocity", "objects", "appearance"),
        "no appearance": ("pixel", "velocity", "objects"),
        "pixel+velocity": ("pixel", "velocity"),
    }.items():
        y = np.concatenate([labels[v] for v in labels])
        rule = summed if name.startswith("sum") else (lambda t: fuse(t, "pixel").scores)
        fused = {v: rule({t: terms[t][v] for t in keep}) for v in labels}
        y = np.concatenate([labels[v] for v in labels])
        videos = [
            roc_auc(labels[v], fused[v]) for v in labels if 0 < labels[v].sum() < len(labels[v])
        ]
        out[name] = [
            round(roc_auc(y, np.concatenate(list(fused.values()))), 4),
            round(float(np.mean(videos)), 4),
        ]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("datasets", nargs="+")
    p.add_argument("--test", action="store_true")
    p.add_argument("--variants", nargs="*")
    a = p.parse_args()
    for ds in a.datasets:
        if a.test:
            print(ds, "suite terms", json.dumps(without_appearance(ds)), flush=True)
        for name, over in VARIANTS3.items():
            if a.variants and name not in a.variants:
                continue
            over = dict(over)
            standardise = over.pop("_std", True)
            r = run(ds, AttributeConfig(**over), a.test, standardise=standardise)
            print(ds, name, json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
