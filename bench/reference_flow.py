"""The optical-flow reference of issue 17 alone, on every dataset folder under --data.

The maths is `vad.eval.reference_flow` (which `vad eval suite` prints beside stage 1); this script
only fits it on each dataset's train/ and scores its test/: pooled frame-level AUC / AP and the
mean per-video AUC. Reads test labels: a "look" (docs/benchmarks-normality.md).

    OMP_NUM_THREADS=1 .venv/bin/python bench/reference_flow.py --data ../shared/data [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from service.settings import Settings  # noqa: E402
from vad.eval.metrics import frame_metrics, per_video_auc  # noqa: E402
from vad.eval.reference_flow import ReferenceFlow  # noqa: E402
from vad.eval.suite import PLAIN, dataset_camera, discover_datasets  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def evaluate(folder: Path) -> dict:
    camera = dataset_camera(folder, fps=Settings().ingest.default_fps)
    started = time.perf_counter()
    reference = ReferenceFlow.fit(PLAIN.clip(p, camera.fps).frames for p in camera.train)
    fit_seconds = time.perf_counter() - started
    scores, labels, seconds = {}, {}, 0.0
    for path in camera.test:
        clip = PLAIN.clip(path, camera.fps)
        started = time.perf_counter()
        scored = clip.held(reference.score(clip.frames))
        seconds += time.perf_counter() - started
        n = min(len(scored), len(camera.labels[path.stem]))
        scores[path.stem], labels[path.stem] = scored[:n], camera.labels[path.stem][:n]
    pooled = frame_metrics(
        np.concatenate(list(labels.values())), np.concatenate(list(scores.values()))
    )
    videos = per_video_auc(labels, scores)
    return {
        "dataset": camera.name,
        "auc": pooled["auc"],
        "ap": pooled["ap"],
        "mean_video_auc": float(np.mean(list(videos.values()))) if videos else None,
        "per_video_auc": videos,
        "fit_seconds": round(fit_seconds, 2),
        "scoring_fps": round(sum(len(s) for s in scores.values()) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true", help="one JSON document")
    args = parser.parse_args()
    rows = [evaluate(folder) for folder in discover_datasets(args.data)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(
            f"{r['dataset']:<12} AUC {r['auc']:.3f}  AP {r['ap']:.3f}  per-video "
            f"{r['mean_video_auc']:.3f}  fit {r['fit_seconds']:.1f} s  "
            f"{r['scoring_fps']:.0f} frames/s"
        )


if __name__ == "__main__":
    main()
