"""Seconds per stage-2 window with the real SmolLM2-135M (llama.cpp in process, one thread) on
scene descriptions: wall and CPU time per window, per chain step, generated tokens per CPU second,
for a model with a fusion weight (rated) and one with weight 0 (explanations only: no rating).

    vad models pull smollm2-135m && bash scripts/llama-setup.sh
    OMP_NUM_THREADS=1 VAD_STAGE2__LLM_THREADS=1 nice -n 10 .venv/bin/python bench/stage2_llm.py \
        [--windows 6] [--modes rated,explanations-only] [--training ../shared/data/ucsd_ped2/train]

`--training DIR` (needs the detector installed) also explains real windows of that normal
footage, as `vad stage2 calibrate` picks them, with each window's description, summary and
explanation, and says which are quiet (no measured speed in the description: their summary and
explanation are the description's own lines, no LLM call). No label is read.

CPU time is this process's (llama.cpp runs in it): on a machine shared with other jobs the wall
time stretches, the CPU time is what one free core would take.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.settings import Settings  # noqa: E402
from vad.encoders.detectors import installed_detector  # noqa: E402
from vad.encoders.detectors.keyframes import KeyFrameDetector  # noqa: E402
from vad.stage2.calibration import spread_windows  # noqa: E402
from vad.stage2.chain import Stage2Chain, WindowInput  # noqa: E402
from vad.stage2.loading import build_llm  # noqa: E402
from vad.stage2.prompts import PROMPT_VERSION  # noqa: E402
from vad.stage2.scene import (  # noqa: E402
    SceneSource,
    describe_window,
    fit_scene_norms,
    states_a_speed,
)
from vad.video import analysed_frames  # noqa: E402

WINDOWS = [
    [
        (0.0, "a vehicle drives to the left in the bottom right of the view at 2.5x the usual "
         "speed of people here, for 1.9 s (this camera never showed vehicles)"),
        (0.0, "7 people walk"),
    ],
    [(0.0, "9 people walk; 1 person stands")],
    [
        (0.3, "a person moves to the right in the middle left of the view at 3.1x the usual "
         "speed of people here, for 1.6 s"),
        (0.0, "5 people walk"),
    ],
]  # fmt: skip


def measure(chain: Stage2Chain, llm, windows: int, rate: bool) -> dict:
    """One mode: `rate` True = a model with a fusion weight (summary, rating, explanation),
    False = explanations only (weight 0: summary and explanation)."""
    chain.run(WindowInput([], [], None, [], WINDOWS[0]), rate=rate)  # warm-up
    llm.tokens, llm.cpu_seconds = 0, 0.0
    walls, cpus, stages, stage_cpus, scores, said = [], [], {}, {}, [], {}
    for i in range(windows):
        cpu = time.process_time()
        result = chain.run(WindowInput([], [], None, [], WINDOWS[i % len(WINDOWS)]), rate=rate)
        cpus.append(time.process_time() - cpu)
        walls.append(result.seconds)
        scores.append(result.score)
        said.setdefault(i % len(WINDOWS), result.explanation)
        for name, seconds in result.stage_seconds.items():
            stages.setdefault(name, []).append(seconds)
        for name, seconds in result.stage_cpu_seconds.items():
            stage_cpus.setdefault(name, []).append(seconds)
    return {
        "windows": len(walls),
        "cpu_s_per_window": round(statistics.mean(cpus), 2),
        "cpu_s_per_window_max": round(max(cpus), 2),
        "wall_s_per_window": round(statistics.mean(walls), 2),
        "stage_cpu_s": {k: round(statistics.mean(v), 2) for k, v in stage_cpus.items()},
        "stage_wall_s": {k: round(statistics.mean(v), 2) for k, v in stages.items()},
        "tokens_generated": llm.tokens,
        "tokens_per_cpu_second": round(llm.tokens / llm.cpu_seconds, 1),
        "ratings": scores,
        "explanations": [said[k] for k in sorted(said)],  # one per description (greedy)
    }


def training_scenes(settings: Settings, folder: Path, limit: int) -> list[tuple[str, list]]:
    """Scene descriptions of up to `limit` windows spread over the normal clips in `folder`, as
    `vad stage2 calibrate` picks them (key-frame detections; norms fitted on the same clips)."""
    detector = KeyFrameDetector.like_learning(
        installed_detector(settings.model_dir, settings.encoders), settings.objects
    )
    paths = sorted(folder.glob("*.mp4"))
    clips = [analysed_frames(p, settings.ingest.default_fps) for p in paths]
    found = [detector.detect(c.frames) for c in clips]
    norms = fit_scene_norms(zip(found, (c.times() for c in clips), strict=True))
    rate = clips[0].rate
    per = max(1, int(round(settings.windows.seconds * rate)))
    chosen = spread_windows([len(c.frames) for c in clips], per, limit)
    return [
        (
            f"{paths[c].stem}@{s}",
            describe_window(found[c][s : s + per], clips[c].times()[s : s + per], norms),
        )
        for c, s in chosen
    ]


def explain_training(chain: Stage2Chain, scenes: list) -> dict:
    """Explanations only (SmolLM2-135M's weight 0) of each real window, quiet ones marked."""
    chain.run(WindowInput([], [], None, [], scenes[0][1]), rate=False)  # warm-up
    rows = []
    for name, scene in scenes:
        cpu = time.process_time()
        result = chain.run(WindowInput([], [], None, [], scene), rate=False)
        rows.append(
            {
                "window": name,
                "quiet": not states_a_speed(s for _, s in scene),
                "cpu_s": round(time.process_time() - cpu, 2),
                "scene": [s for _, s in scene],
                "summary": result.summary,
                "explanation": result.explanation,
            }
        )
    return {
        "windows": len(rows),
        "quiet": sum(r["quiet"] for r in rows),
        "cpu_s_per_window": round(statistics.mean(r["cpu_s"] for r in rows), 2),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument(
        "--modes",
        default="rated,explanations-only",
        help="comma-separated: rated (a model with a fusion weight), explanations-only (weight 0)",
    )
    parser.add_argument("--training", type=Path, help="normal footage: explain its windows too")
    parser.add_argument("--training-windows", type=int, default=30)
    args = parser.parse_args()
    settings = Settings()
    llm = build_llm(settings)
    chain = Stage2Chain(SceneSource("scene:bench"), llm, settings.stage2)
    modes = {m: measure(chain, llm, args.windows, m == "rated") for m in args.modes.split(",")}
    if args.training:
        scenes = training_scenes(settings, args.training, args.training_windows)
        modes["training"] = explain_training(chain, scenes)
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "llm": llm.name,
                "prompt_version": PROMPT_VERSION,
                **modes,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
