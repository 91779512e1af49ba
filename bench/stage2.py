"""Stage-2 figures: seconds per window with the tiny models on this CPU, analyses per minute under
the budget, and the share of Ped2 test windows that reach stage 2.

    .venv/bin/vad eval ped2 --data ../shared/data/ucsd_ped2 --scores-out /tmp/ped2_scores
    .venv/bin/python bench/stage2.py --scores /tmp/ped2_scores/ucsd_ped2/plain/stage1.npz \
        [--windows 20] [--seconds 60]

- Seconds per window: the whole chain (caption the sampler's frames, CLIP cleaning, summary,
  constrained rating, explanation) on 2-s windows of real Ped2 frames, tiny transformers models
  with random weights (tests/support/stage2_models.py) and the tiny CLIP, in process.
- Budget: windows offered back to back for `--seconds` to one worker's token bucket at the default
  budget; analyses that ran per minute and windows skipped.
- Share: the learned stage-1 model's per-frame scores of the 12 Ped2 test videos (from
  `vad eval ped2 --scores-out`) cut into the pipeline's 2-s windows and fed to the incident tracker
  with the default incident settings; a window reaches stage 2 when an incident opens or its peak
  rises in it (at most `max_per_incident` per incident), exactly the stage-1 hook's rule.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.settings import Settings  # noqa: E402
from vad.incidents import IncidentTracker, ScoredFrame  # noqa: E402
from vad.stage2.budget import TokenBucket  # noqa: E402
from vad.stage2.chain import WindowInput, choose_frames  # noqa: E402
from vad.stage2.loading import build_chain  # noqa: E402

PED2 = ROOT.parent / "shared" / "data" / "ucsd_ped2"
FPS = 10


def ped2_windows(per_window: int) -> list[tuple[str, list[np.ndarray]]]:
    """Consecutive 2-s windows of every Ped2 test video."""
    out = []
    for path in sorted((PED2 / "test").glob("*.mp4")):
        capture = cv2.VideoCapture(str(path))
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
        for start in range(0, len(frames) - per_window + 1, per_window):
            out.append((path.stem, frames[start : start + per_window]))
    return out


def build_models(root: Path) -> Settings:
    from tests.support.stage2_models import tiny_captioner_dir, tiny_llm_dir
    from tests.support.tiny_models import tiny_clip_dir

    tiny_captioner_dir(root / "stage2")
    tiny_llm_dir(root / "stage2")
    (root / "encoders").mkdir()
    tiny_clip_dir(root / "build").rename(root / "encoders" / "clip-vit-b32")
    return Settings(_env_file=None, model_dir=root)


def window_input(frames: list[np.ndarray], settings: Settings, rng) -> WindowInput:
    scores = rng.random(len(frames))  # stands in for the stage-1 scores the sampler follows
    picks = choose_frames(scores, settings.stage2)
    return WindowInput(
        [frames[i] for i in picks],
        [i / FPS for i in picks],
        context="University walkway: pedestrians only, no vehicles.",
    )


def seconds_per_window(chain, settings, windows, n: int) -> dict:
    rng = np.random.default_rng(0)
    chain.run(window_input(windows[0][1], settings, rng))  # warm-up
    times, stages = [], {}
    step = max(1, len(windows) // n)
    for _, frames in windows[::step][:n]:
        result = chain.run(window_input(frames, settings, rng))
        times.append(result.seconds)
        for name, s in result.stage_seconds.items():
            stages.setdefault(name, []).append(s)
    return {
        "windows": len(times),
        "frames_per_window": settings.stage2.frames_per_window,
        "mean_s": round(statistics.mean(times), 3),
        "p50_s": round(statistics.median(times), 3),
        "p95_s": round(float(np.percentile(times, 95)), 3),
        "stage_mean_s": {k: round(statistics.mean(v), 3) for k, v in stages.items()},
    }


def budget_run(chain, settings, windows, seconds: float) -> dict:
    """Offer windows back to back; run those the bucket admits, skip the rest."""
    cfg = settings.stage2
    bucket = TokenBucket(cfg.max_calls_per_minute, cfg.burst)
    rng = np.random.default_rng(1)
    started, offered, ran = time.monotonic(), 0, 0
    while time.monotonic() - started < seconds:
        frames = windows[offered % len(windows)][1]
        offered += 1
        if bucket.try_acquire():
            chain.run(window_input(frames, settings, rng))
            ran += 1
        else:
            time.sleep(0.05)  # a stage-1 flag arriving every 50 ms at most
    minutes = (time.monotonic() - started) / 60
    return {
        "budget_per_minute": cfg.max_calls_per_minute,
        "burst": cfg.burst,
        "seconds": round(minutes * 60, 1),
        "offered": offered,
        "analysed": ran,
        "skipped": bucket.dropped,
        "analysed_per_minute": round(ran / minutes, 1),
    }


def read_scores(path: Path) -> dict[str, np.ndarray]:
    """Per-video stage-1 scores: `vad eval --scores-out`'s stage1.npz, or an older JSON of
    {video: [score or null]}."""
    if path.suffix == ".npz":
        with np.load(path) as saved:
            return {name: saved[name] for name in saved.files}
    loaded = json.loads(path.read_text())
    return {k: np.array([np.nan if v is None else v for v in vs]) for k, vs in loaded.items()}


def share_reaching_stage2(scores_path: Path, settings: Settings) -> dict:
    scores = read_scores(scores_path)
    labels = json.loads((PED2 / "test_labels.json").read_text())["videos"]
    per_window = int(settings.windows.seconds * FPS)
    total = flagged = capped = anomalous_flagged = 0
    for video, values in sorted(scores.items()):
        tracker = IncidentTracker(settings.incidents, settings.incidents.default_threshold)
        per_incident = 0
        starts = range(0, len(values), per_window)
        for n, start in enumerate(starts):
            frames = [
                ScoredFrame(1000.0 + i / FPS, float(values[i]), i)
                for i in range(start, min(start + per_window, len(values)))
            ]
            events = tracker.feed(frames)
            if n == len(starts) - 1:
                events += tracker.end_stream()
            total += 1
            kinds = {e.kind for e in events}
            if "opened" in kinds:
                per_incident = 0
            if kinds & {"opened", "updated"}:
                if per_incident < settings.stage2.max_per_incident:
                    flagged += 1
                    per_incident += 1
                    window_labels = labels[video]["labels"][start : start + per_window]
                    anomalous_flagged += int(any(window_labels))
                else:
                    capped += 1
    return {
        "videos": len(scores),
        "windows": total,
        "reach_stage2": flagged,
        "share": round(flagged / total, 4) if total else None,
        "over_incident_cap": capped,
        "reaching_windows_with_labelled_anomaly": anomalous_flagged,
        "threshold": settings.incidents.default_threshold,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scores", type=Path, help="stage1.npz written by `vad eval ped2 --scores-out`"
    )
    parser.add_argument("--windows", type=int, default=20, help="windows timed")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the budget run")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    report: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    with tempfile.TemporaryDirectory() as tmp:
        settings = build_models(Path(tmp))
        chain = build_chain(settings)
        report["models"] = chain.models()
        windows = ped2_windows(int(settings.windows.seconds * FPS))
        report["seconds_per_window"] = seconds_per_window(chain, settings, windows, args.windows)
        report["budget"] = budget_run(chain, settings, windows, args.seconds)
    if args.scores:
        report["share"] = share_reaching_stage2(args.scores, Settings(_env_file=None))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
