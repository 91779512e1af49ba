"""How long one false-alarm update takes on a Ped2-sized camera (issue 20: "seconds, not minutes").

No test labels are read: the "false alarm" is a stretch of frames of a test clip, whatever they
show; only the time matters. Stage 1 is fitted on the training clips with the models the worker
would run (`installed_encoders`: pixel, velocity, and the object model when the detector is
exported under --model-dir) and saved as a camera's model folder. Then the false alarm is learned
the way `feedback.verdicts` learns it once its frames are read back from the log (Kafka read not
included; JPEG decoding is):

- **re-detect**: the detector is loaded (`encoders_for_update`) and run again on the frames;
- **stored**: the worker's detections of those frames (`frame_detections`, here computed before
  the clock starts, as the worker did when it scored them) are learned instead; nothing loads.

Each path is run --repeat times (fresh folder each time); the median and every run are printed.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/feedback_speed.py \
        --data ../shared/data/ucsd_ped2 --model-dir /tmp/models [--frames 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from feedback.verdicts import encoders_for_update  # noqa: E402
from service.settings import Settings  # noqa: E402
from vad.codec import decode_jpeg, encode_jpeg  # noqa: E402
from vad.encoders.detectors.keyframes import detect_key_frames  # noqa: E402
from vad.eval.stage1 import Stage1, installed_encoders  # noqa: E402
from vad.masks import RegionMask  # noqa: E402
from vad.scoring.incremental import Recorded, extend_folder  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ucsd_ped2"


def fitted_folder(settings: Settings, data: Path, folder: Path) -> tuple[Stage1, float]:
    """Stage 1 fitted on the training clips, saved as a camera's model folder."""
    stage1 = Stage1(settings, installed_encoders(settings))
    clips = ([*iter_video_frames(p)] for p in sorted((data / "train").glob("*.mp4")))
    seconds = stage1.fit(clips)
    folder.mkdir(parents=True)
    for model in (stage1.pixel, stage1.velocity, stage1.objects, stage1.appearance):
        if model is not None:
            model.save(folder)
    return stage1, seconds


def update_once(
    settings: Settings, parent: Path, jpegs: list[bytes], recorded: dict
) -> dict[str, float | dict]:
    """One update as feedback.verdicts runs it after the log read: decode, load, extend + save."""
    started = time.perf_counter()
    clips = [[decode_jpeg(j) for j in jpegs]]
    decoded = time.perf_counter()
    encoders = encoders_for_update(parent, settings, RegionMask(), recorded)
    loaded = time.perf_counter()
    target = parent.parent / f"update-{time.monotonic_ns()}"
    extension = extend_folder(parent, target, clips, {"kind": "bench"}, encoders, recorded)
    done = time.perf_counter()
    shutil.rmtree(target)
    return {
        "decode_s": round(decoded - started, 3),
        "load_encoders_s": round(loaded - decoded, 3),
        "extend_and_save_s": round(done - loaded, 3),
        "total_s": round(done - started, 3),
        "families": extension.lines,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model-dir", type=Path, default=None, help="where the encoders are")
    parser.add_argument("--clip", default="test_01.mp4", help="test clip the frames come from")
    parser.add_argument("--frames", type=int, default=64, help="frames of the false alarm")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    settings = Settings()
    if args.model_dir is not None:
        settings = settings.model_copy(update={"model_dir": args.model_dir})
    with tempfile.TemporaryDirectory(prefix="feedback-speed-") as scratch:
        parent = Path(scratch) / "v1"
        stage1, fit_seconds = fitted_folder(settings, args.data, parent)
        print(f"fitted {stage1.parts} in {fit_seconds:.0f} s", flush=True)
        frames = [
            f
            for _, f in zip(
                range(args.frames), iter_video_frames(args.data / "test" / args.clip), strict=False
            )
        ]
        jpegs = [encode_jpeg(f) for f in frames]
        recorded = {}
        detector = stage1.encoders.detector
        if detector is not None:  # what the worker stored when it scored these frames
            o = settings.objects
            found = detect_key_frames(detector, frames, o.detect_every, o.redetect_change)
            recorded = {"detector": Recorded(detector.name, found)}
        runs: dict[str, list] = {"re-detect": [], "stored": []}
        for _ in range(args.repeat):
            for path, given in (("re-detect", {}), ("stored", recorded)):
                run = update_once(settings, parent, jpegs, given)
                runs[path].append(run)
                print(path, json.dumps(run), flush=True)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {platform.node()}",
        "parts": stage1.parts,
        "frames": len(jpegs),
        "frame_size": list(frames[0].shape[:2]),
        "median_total_s": {
            path: statistics.median(r["total_s"] for r in found) for path, found in runs.items()
        },
        "runs": runs,
    }
    print(json.dumps(result["median_total_s"]))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
