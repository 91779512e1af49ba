"""Cost of the per-camera object model (fit and scoring), on synthetic detections shaped like a
busy walkway: 2,550 training frames (Ped2's training size) with 0-9 people each, one class.

The detector's own cost is in bench/encoders.py; this is what the object model adds on top.

    OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/objects.py
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vad.encoders.detectors import Detection  # noqa: E402
from vad.scoring.object_normality import fit_object_model  # noqa: E402


def walkway(seed: int, frames: int) -> list[list[Detection]]:
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0, 1, size=10)
    out = []
    for t in range(frames):
        people = []
        for k in range(rng.integers(0, 10)):
            x, y = (starts[k] + 0.002 * t) % 1.0, 0.4 + 0.3 * (k / 10)
            people.append(Detection("person", 0.8, (x - 0.02, y - 0.06, x + 0.02, y + 0.06)))
        out.append(people)
    return out


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    train = walkway(0, 2550)
    started = time.process_time()
    model = fit_object_model([train], "bench")
    fit_cpu = time.process_time() - started
    test = walkway(1, 2000)
    started = time.process_time()
    model.score(test)
    score_cpu = time.process_time() - started
    print(
        json.dumps(
            {
                "machine": platform.processor() or platform.machine(),
                "train_frames": len(train),
                "train_boxes": sum(map(len, train)),
                "fit_cpu_seconds": round(fit_cpu, 2),
                "score_frames_per_cpu_second": round(len(test) / score_cpu),
                "memory_boxes": {k: len(v.boxes) for k, v in model.classes.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
