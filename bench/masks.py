"""Masks and zones (issue 20): what a mask costs the worker per frame, and what it does to a
burned-in clock on real Ped2 footage.

1. Cost: `mask_window` (masked pixels frozen) and `ZoneLocator.per_frame` (zones touched) per
   frame, two mask polygons and two zones, at 360x240 and 1280x720 (random frames; the work does
   not depend on content).
2. Effect: the pixel + velocity models fitted on Ped2 train_01/02 (60 frames each, the unit
   test's small config) score 40 frames of train_03 clean, with a time stamp that changes every
   frame in the top-left corner, and with that corner masked: mean and max stage-1 score.

    OMP_NUM_THREADS=1 .venv/bin/python bench/masks.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vad.masks import RegionMask, Zone, ZoneLocator, mask_window  # noqa: E402
from vad.scoring.normality import NormalityConfig, fit_normality_model  # noqa: E402
from vad.scoring.normality.scorer import NormalityScorer  # noqa: E402
from vad.scoring.velocity import fit_velocity_model  # noqa: E402
from vad.types import Frame  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402

CORNER = ((0.0, 0.0), (0.4, 0.0), (0.4, 0.22), (0.0, 0.22))
MASK = RegionMask((CORNER, ((0.6, 0.6), (1.0, 0.6), (1.0, 1.0))))
ZONES = [
    Zone("bottom", (((0, 0.5), (1, 0.5), (1, 1), (0, 1)),)),
    Zone("top", (((0, 0), (1, 0), (1, 0.5)),)),
]


def cost(width: int, height: int, repeat: int = 5) -> dict:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (height, width, 3), dtype=np.uint8) for _ in range(54)]
    frames = [Frame("cam", i, i / 10, im, offset=i) for i, im in enumerate(images)]
    locator = ZoneLocator(ZONES)
    mask_window(frames[4:], frames[:4], MASK)  # rasterise once, as the worker's cache does
    started = time.perf_counter()
    for _ in range(repeat):
        window, context = mask_window(frames[4:], frames[:4], MASK)
    masking = (time.perf_counter() - started) / repeat / len(window)
    boxes = [[(0.1, 0.1, 0.2, 0.6)]] * len(window)
    started = time.perf_counter()
    for _ in range(repeat):
        locator.per_frame([f.image for f in window], context[-1].image, boxes)
    zoning = (time.perf_counter() - started) / repeat / len(window)
    return {"size": f"{width}x{height}", "mask_ms": masking * 1e3, "zones_ms": zoning * 1e3}


def _frames(path: Path, n: int) -> list[np.ndarray]:
    return list(itertools.islice(iter_video_frames(path), n))


def _clock(images: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for i, image in enumerate(images):
        stamped = image.copy()
        cv2.rectangle(stamped, (0, 0), (130, 40), (0, 0, 0), -1)
        text = f"12:{i // 10:02d}:{i % 10}{(i * 7) % 10}"
        cv2.putText(stamped, text, (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        out.append(stamped)
    return out


def effect(ped2: Path) -> dict:
    train = [_frames(ped2 / "train" / f"train_0{i}.mp4", 60) for i in (1, 2)]
    model = fit_normality_model(train, NormalityConfig(memory_per_cell=64, calibration_folds=2))
    scorer = NormalityScorer(model, fit_velocity_model(train))
    clean = _frames(ped2 / "train" / "train_03.mp4", 40)
    out = {}
    for label, images, mask in (
        ("clean", clean, RegionMask()),
        ("clock", _clock(clean), RegionMask()),
        ("clock, corner masked", _clock(clean), RegionMask((CORNER,))),
    ):
        frames = [Frame("cam", i, i / 10, im, offset=i) for i, im in enumerate(images)]
        window, context = mask_window(frames[6:], frames[:6], mask)
        scores = scorer.score(window, context).scores
        out[label] = {
            "mean": round(float(np.nanmean(scores)), 3),
            "max": round(float(np.nanmax(scores)), 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "cost_per_frame": [cost(360, 240), cost(1280, 720)],
        "clock_on_ped2": effect(args.data / "ucsd_ped2"),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
