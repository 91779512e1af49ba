"""Even analysis steps on a 25 fps camera: the old sampler by media time against the stride rule.

No footage here is faster than 10 fps, so the camera is made up: a textured block moving at a
constant speed over a static Ped2 background (the median of a training clip's frames: no test
clip, no label), written at 25 fps. The camera is analysed at 10 fps (`VAD_INGEST__DEFAULT_FPS`)
two ways:

* "media time": `FpsSampler(10)` at media time i / 25, what every path did before the stride
  rule (steps of 0.12 and 0.08 s in turn);
* "stride": `vad.video.analysed_frames`, what every path does now (`vad.sampling.AnalysisSampler`:
  every 3rd frame, 8.3 fps, steps of 0.12 s).

Printed per sampler: the step-to-step variation of the velocity model's per-frame flow (the
fastest cell's speed, px per step at the model's width) while the block is in full view, and of
stage 1's scores (fused, pixel and velocity terms) on the normal test frames of a stage 1 fitted
on a training clip of the same scene (same speed, other rows and texture). Variation = the
coefficient of variation (std / mean) and the mean |change| from one analysed frame to the next
over the mean.

    OMP_NUM_THREADS=1 .venv/bin/python bench/even_steps.py --data ../shared/data [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/ (its api.py would hide the api package)

from service.settings import Settings  # noqa: E402
from vad.eval.stage1 import Stage1, installed_encoders  # noqa: E402
from vad.sampling import FpsSampler  # noqa: E402
from vad.scoring.velocity import cell_speeds, to_grey  # noqa: E402
from vad.video import analysed_frames, iter_video_frames  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SOURCE_FPS = 25.0
SPEED_PX_PER_S = 60.0  # 2.4 px per source frame on Ped2's 360 px wide view
BLOCK_PX = 24


def background(data: Path) -> np.ndarray:
    """The static scene: per-pixel median of a Ped2 training clip (walkers averaged away)."""
    frames = list(itertools.islice(iter_video_frames(data / "ucsd_ped2/train/train_01.mp4"), 120))
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def write_clip(path: Path, scene: np.ndarray, seconds: float, rows: list[int], seed: int) -> None:
    """One block per row in `rows`, moving at `SPEED_PX_PER_S` to and fro across the view (the
    speed stays constant, no jump at the edge); a little sensor noise, as on a real sensor."""
    rng = np.random.default_rng(seed)
    h, w = scene.shape[:2]
    blocks = [rng.integers(0, 255, (BLOCK_PX, BLOCK_PX, 3), dtype=np.uint8) for _ in rows]
    starts = rng.uniform(0, 2 * (w - BLOCK_PX), len(rows))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), SOURCE_FPS, (w, h))
    for i in range(round(seconds * SOURCE_FPS)):
        frame = scene.astype(np.int16) + rng.normal(0, 2, scene.shape).astype(np.int16)
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        for block, row, start in zip(blocks, rows, starts, strict=True):
            travel = (start + SPEED_PX_PER_S * i / SOURCE_FPS) % (2 * (w - BLOCK_PX))
            x = int(round(min(travel, 2 * (w - BLOCK_PX) - travel)))
            frame[row : row + BLOCK_PX, x : x + BLOCK_PX] = block
        writer.write(frame)
    writer.release()


def by_media_time(path: Path, fps: float) -> list[np.ndarray]:
    """The frames the old rule kept: `FpsSampler(fps)` at media time i / the file's rate."""
    sampler = FpsSampler(fps)
    return [f for i, f in enumerate(iter_video_frames(path)) if sampler.due(i / SOURCE_FPS)]


def variation(values: np.ndarray) -> dict:
    values = np.asarray(values, np.float64)
    mean = float(np.mean(values))
    return {
        "mean": round(mean, 4),
        "cv": round(float(np.std(values)) / mean, 4),
        "step_change": round(float(np.mean(np.abs(np.diff(values)))) / mean, 4),
    }


def flow_per_frame(frames: list[np.ndarray], settings: Settings) -> np.ndarray:
    """The fastest cell's speed of each analysed frame (the first has no predecessor: dropped)."""
    config = settings.velocity
    greys = [to_grey(f, config.width) for f in frames]
    return cell_speeds(greys, config.cell_px, config.stabilise).max(axis=(1, 2))[1:]


def measure(name: str, train: list[np.ndarray], test: list[np.ndarray], settings: Settings):
    stage1 = Stage1(settings, installed_encoders(settings))
    stage1.fit([train])
    scored = stage1.score(test, settings.ingest.default_fps)
    skip = 4  # the smoothing's start-up frames
    out = {
        "sampler": name,
        "analysed_fps": None,
        "flow_px_per_step": variation(flow_per_frame(test, settings)),
        "fused": variation(scored.fused[skip:]),
    }
    for term, values in scored.terms.items():
        out[term] = variation(np.asarray(values)[skip:])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    fps = settings.ingest.default_fps
    scene = background(args.data)
    with tempfile.TemporaryDirectory(prefix="even-steps-") as folder:
        train_path, test_path = Path(folder) / "train.avi", Path(folder) / "test.avi"
        write_clip(train_path, scene, 40, [40, 100, 160], seed=1)
        write_clip(test_path, scene, 20, [70, 130], seed=2)
        rows = []
        old = measure(
            "media time", by_media_time(train_path, fps), by_media_time(test_path, fps), settings
        )
        old["analysed_fps"] = fps
        rows.append(old)
        clip = analysed_frames(test_path, fps)
        new = measure("stride", analysed_frames(train_path, fps).frames, clip.frames, settings)
        new["analysed_fps"] = round(clip.rate, 2)
        rows.append(new)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    terms = [k for k in rows[0] if k not in ("sampler", "analysed_fps")]
    print(f"{'sampler':<11} {'fps':>5} " + " ".join(f"{t + ' cv/step':>22}" for t in terms))
    for row in rows:
        cells = " ".join(f"{row[t]['cv']:>10.3f}/{row[t]['step_change']:<11.3f}" for t in terms)
        print(f"{row['sampler']:<11} {row['analysed_fps']:>5} {cells}")


if __name__ == "__main__":
    main()
