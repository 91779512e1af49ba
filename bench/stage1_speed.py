"""Speed of the default stage 1 (pixel + velocity + object model on the SSD) with the detector on
every frame against key frames only (`objects.detect_every`), on a dataset's TRAINING clips only:
fit on all but the last `--holdout` clips, score the held-out ones (normal footage: every frame
over the threshold is a false alarm), and say how much the key frames changed the scores.

    VAD_MODEL_DIR=/tmp/evalmodels VAD_ENCODERS__THREADS=1 OMP_NUM_THREADS=1 nice -n 10 \\
        python bench/stage1_speed.py ../shared/data/ucsd_ped2 --holdout 2 --every 1 4

Prints one JSON line per variant (fit and scoring seconds, wall and CPU, the load average, frames
per CPU-second: the median of `--repeat N` scorings, each listed; the held-out scores' quantiles
and share over the incident threshold) and one comparing each variant's held-out scores and
detections with the first variant's. Reads no test label.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.settings import Settings  # noqa: E402
from vad.encoders.detectors.keyframes import detect_key_frames  # noqa: E402
from vad.eval.stage1 import Stage1, installed_encoders  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402

THRESHOLD = 0.6  # the incident rule's default open threshold


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = clock()
    return round(wall - start[0], 1), round(cpu - start[1], 1)


def run(
    every: int, train: list[Path], held: list[Path], repeat: int = 1
) -> tuple[dict, dict, list]:
    settings = Settings()
    settings = settings.model_copy(
        update={"objects": settings.objects.model_copy(update={"detect_every": every})}
    )
    encoders = installed_encoders(settings)
    if encoders.detector is None:
        raise SystemExit(f"detector not installed: {encoders.off}")
    stage = Stage1(settings, encoders)
    load = os.getloadavg()[0]
    start = clock()
    stage.fit(list(iter_video_frames(p)) for p in train)
    fit_wall, fit_cpu = since(start)
    clips = [list(iter_video_frames(p)) for p in held]
    frames = sum(len(c) for c in clips)
    rates = []
    for _ in range(repeat):  # a shared machine's load moves one run by 10-15 %: several, median
        start = clock()
        scored = [stage.score(c, settings.ingest.default_fps) for c in clips]
        score_wall, score_cpu = since(start)
        rates.append(round(frames / max(score_cpu, 1e-9), 1))
    o = settings.objects
    found = [
        d for c in clips for d in detect_key_frames(encoders.detector, c, every, o.redetect_change)
    ]
    fused = np.concatenate([s.fused for s in scored])
    terms = {k: np.concatenate([s.terms[k] for s in scored]) for k in scored[0].terms}
    row = {
        "every": every,
        "train_frames": stage.objects.metadata["frames_seen"],
        "fit_s_wall_cpu": [fit_wall, fit_cpu],
        "held_frames": frames,
        "frame_size": list(clips[0][0].shape[1::-1]),
        "score_s_wall_cpu": [score_wall, score_cpu],
        "frames_per_cpu_s": float(np.median(rates)),
        "frames_per_cpu_s_each": rates,
        "load_at_start": round(load, 1),
        "fused_q50_q99_max": np.round(np.quantile(fused, [0.5, 0.99, 1]), 3).tolist(),
        "objects_q50_q99_max": np.round(np.quantile(terms["objects"], [0.5, 0.99, 1]), 3).tolist(),
        "share_over_threshold": round(float((fused >= THRESHOLD).mean()), 4),
        "objects_over_threshold": round(float((terms["objects"] >= THRESHOLD).mean()), 4),
    }
    return row, {"fused": fused, **terms}, found


def compare(base: tuple[dict, list], other: tuple[dict, list], every: int) -> dict:
    (a, da), (b, db) = base, other
    same = [
        [(d.class_name, d.box) for d in x] == [(d.class_name, d.box) for d in y]
        for x, y in zip(da, db, strict=True)
    ]
    counts = [abs(len(x) - len(y)) for x, y in zip(da, db, strict=True)]
    return {
        "every": every,
        "fused_mean_abs_diff": round(float(np.mean(np.abs(a["fused"] - b["fused"]))), 4),
        "fused_max_abs_diff": round(float(np.max(np.abs(a["fused"] - b["fused"]))), 4),
        "objects_mean_abs_diff": round(float(np.mean(np.abs(a["objects"] - b["objects"]))), 4),
        "frames_same_detections": round(float(np.mean(same)), 3),
        "frames_same_count": round(float(np.mean(np.array(counts) == 0)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a dataset folder with train/*.mp4")
    parser.add_argument("--holdout", type=int, default=2, help="last training clips held out")
    parser.add_argument("--every", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=1, help="score the held-out clips N times")
    args = parser.parse_args()
    clips = sorted((args.data / "train").glob("*.mp4"))
    train, held = clips[: -args.holdout], clips[-args.holdout :]
    results = []
    for every in args.every:
        row, scores, found = run(every, train, held, args.repeat)
        row["dataset"], row["train_clips"] = args.data.name, len(train)
        print(json.dumps(row), flush=True)
        results.append((scores, found))
    for every, other in zip(args.every[1:], results[1:], strict=True):
        print(json.dumps(compare(results[0], other, every)), flush=True)


if __name__ == "__main__":
    main()
