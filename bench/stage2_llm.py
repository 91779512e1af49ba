"""Seconds per stage-2 window with the real SmolLM2-135M (llama.cpp in process, one thread) on
scene descriptions: wall and CPU time per window, per chain step, generated tokens per CPU second,
for a model with a fusion weight (rated) and one with weight 0 (explanations only: no rating).

    vad models pull smollm2-135m && bash scripts/llama-setup.sh
    OMP_NUM_THREADS=1 VAD_STAGE2__LLM_THREADS=1 nice -n 10 .venv/bin/python bench/stage2_llm.py \
        [--windows 6] [--modes rated,explanations-only]

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
from vad.stage2.chain import Stage2Chain, WindowInput  # noqa: E402
from vad.stage2.loading import build_llm  # noqa: E402
from vad.stage2.prompts import PROMPT_VERSION  # noqa: E402
from vad.stage2.scene import SceneSource  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument(
        "--modes",
        default="rated,explanations-only",
        help="comma-separated: rated (a model with a fusion weight), explanations-only (weight 0)",
    )
    args = parser.parse_args()
    settings = Settings()
    llm = build_llm(settings)
    chain = Stage2Chain(SceneSource("scene:bench"), llm, settings.stage2)
    modes = {m: measure(chain, llm, args.windows, m == "rated") for m in args.modes.split(",")}
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
