"""Seconds per stage-2 window with the real SmolLM2-135M (llama.cpp in process, one thread) on
scene descriptions: wall and CPU time per window, per chain step, generated tokens per CPU second.

    vad models pull smollm2-135m && bash scripts/llama-setup.sh
    OMP_NUM_THREADS=1 .venv/bin/python bench/stage2_llm.py [--windows 6]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=6)
    args = parser.parse_args()
    settings = Settings()
    llm = build_llm(settings)
    chain = Stage2Chain(SceneSource("scene:bench"), llm, settings.stage2)
    chain.run(WindowInput([], [], None, [], WINDOWS[0]))  # warm-up
    llm.tokens, llm.cpu_seconds = 0, 0.0
    walls, cpus, stages, scores = [], [], {}, []
    for i in range(args.windows):
        cpu = time.process_time()
        result = chain.run(WindowInput([], [], None, [], WINDOWS[i % len(WINDOWS)]))
        cpus.append(time.process_time() - cpu)
        walls.append(result.seconds)
        scores.append(result.score)
        for name, seconds in result.stage_seconds.items():
            stages.setdefault(name, []).append(seconds)
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "llm": llm.name,
                "windows": len(walls),
                "cpu_s_per_window": round(statistics.mean(cpus), 2),
                "wall_s_per_window": round(statistics.mean(walls), 2),
                "stage_wall_s": {k: round(statistics.mean(v), 2) for k, v in stages.items()},
                "tokens_generated": llm.tokens,
                "tokens_per_cpu_second": round(llm.tokens / llm.cpu_seconds, 1),
                "ratings": scores,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
