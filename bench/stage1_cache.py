"""Research cache for the object-centric stage 1: per dataset video, grey frames at a fixed
internal width and the Farneback flow between consecutive frames (float16), in
/tmp/stage1-cache/<dataset>/<split>/<video>.npz. Research only (bench/); the product computes the
same features inside vad/scoring/objects.

    OMP_NUM_THREADS=1 nice -n 10 python bench/stage1_cache.py ../shared/data/ucsd_ped1 ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from vad.video import iter_video_frames  # noqa: E402

WIDTH = 160


def grey_small(frame: np.ndarray, width: int = WIDTH) -> np.ndarray:
    h, w = frame.shape[:2]
    g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return cv2.resize(g, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0)


def cache_video(path: Path, out: Path) -> None:
    greys = [grey_small(f) for f in iter_video_frames(path)]
    flows = [np.zeros((*greys[0].shape, 2), np.float32)]
    flows += [flow(greys[i - 1], greys[i]) for i in range(1, len(greys))]
    np.savez(out, grey=np.stack(greys), flow=np.stack(flows).astype(np.float16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", type=Path, help="dataset folders (train/, test/)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    for data in args.datasets:
        for split in ("train", "test"):
            dest = Path("/tmp/stage1-cache") / data.name / split
            dest.mkdir(parents=True, exist_ok=True)
            for video in sorted((data / split).glob("*.mp4")):
                out = dest / f"{video.stem}.npz"
                if not out.exists():
                    cache_video(video, out)
            print(data.name, split, "done", flush=True)


if __name__ == "__main__":
    main()
