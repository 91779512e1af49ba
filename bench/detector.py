"""The default detector on UCSD Ped2: speed on one and two cores, person recall against
hand-labelled boxes, false detections on normal footage, and the test_04 cart and cyclist.

    .venv/bin/python bench/detector.py [--model ssd-mobilenetv2-oidv4] [--model-dir DIR]

The model must be installed (`vad models ensure`, or the test cache: `--model-dir
~/.cache/vad/bench-models` is filled from it when missing). Speed runs `detect()` end to end
(resize, inference, decoding, NMS) one frame at a time, as a camera stream does, in a child
process pinned with `taskset` to one core (1 thread) and to two cores (2 threads); the median of
`--frames` frames after a warm-up, with the CPU time per frame and the load average (other
processes on the machine inflate wall time, much less CPU time). Person recall:
`bench/data/ped2_person_boxes.json` (how it was made is in the file); a labelled person is found
when a "person" detection overlaps it by the IoU given. False detections: every non-person
detection on train_01 (normal walking only, no cart, bicycle or animal in it), counted per label
and per frame. The detector runs with the default settings (`detector_ignore`: footwear) at
each confidence threshold listed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vad.encoders.config import EncoderConfig  # noqa: E402
from vad.encoders.detectors import Detector, detector_options, open_detector  # noqa: E402
from vad.encoders.registry import export_dir  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402

PED2 = ROOT.parent / "shared" / "data" / "ucsd_ped2"
BOXES = ROOT / "bench" / "data" / "ped2_person_boxes.json"
THRESHOLDS = (0.25, 0.3, 0.4, 0.5)


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def pixel_boxes(detections, label: str, width: int, height: int, minimum: float) -> list:
    return [
        (d.box[0] * width, d.box[1] * height, d.box[2] * width, d.box[3] * height)
        for d in detections
        if d.class_name == label and d.confidence >= minimum
    ]


def person_recall(detector: Detector) -> dict:
    """Per threshold and IoU: labelled persons found (greedy one-to-one matching), and person
    detections that match neither a labelled person nor an ignore region."""
    labels = json.loads(BOXES.read_text())
    out = {}
    frames = []
    for item in labels["frames"]:
        video = list(iter_video_frames(PED2 / item["video"]))
        frames.append((item, video[item["frame"]]))
    detections = detector.detect([frame for _, frame in frames])
    for minimum in THRESHOLDS:
        for overlap in (0.3, 0.5):
            hits = unmatched = total = 0
            for (item, frame), found in zip(frames, detections, strict=True):
                height, width = frame.shape[:2]
                boxes = pixel_boxes(found, "person", width, height, minimum)
                free = list(range(len(boxes)))
                for truth in item["persons"]:
                    total += 1
                    best = max(free, key=lambda i: iou(boxes[i], truth), default=None)
                    if best is not None and iou(boxes[best], truth) >= overlap:
                        hits += 1
                        free.remove(best)
                unmatched += sum(
                    1 for i in free if not any(iou(boxes[i], r) > 0.3 for r in item["ignore"])
                )
            out[f"conf>={minimum} iou>={overlap}"] = {
                "recall": round(hits / total, 3),
                "found": hits,
                "labelled": total,
                "unmatched_person_boxes": unmatched,
            }
    return out


def false_detections(detector: Detector) -> dict:
    """Non-person detections on train_01 (normal footage), per threshold and label."""
    frames = list(iter_video_frames(PED2 / "train" / "train_01.mp4"))
    found = detector.detect(frames)
    out = {"frames": len(frames)}
    for minimum in THRESHOLDS:
        per_label: Counter[str] = Counter()
        frames_with: Counter[str] = Counter()
        for detections in found:
            labels = [d.class_name for d in detections if d.confidence >= minimum]
            per_label.update(label for label in labels if label != "person")
            frames_with.update({label for label in labels if label != "person"})
        out[f"conf>={minimum}"] = {
            "non_person_boxes": sum(per_label.values()),
            "frames_with_non_person": sum(
                1
                for d in found
                if any(x.class_name != "person" and x.confidence >= minimum for x in d)
            ),
            "by_label_frames": dict(frames_with.most_common()),
            "persons_per_frame": round(
                statistics.mean(
                    sum(1 for x in d if x.class_name == "person" and x.confidence >= minimum)
                    for d in found
                ),
                2,
            ),
        }
    return out


def false_detections_all_training(detector: Detector, every: int = 4) -> dict:
    """Frames with a non-person label, per label and threshold, over every Ped2 training clip
    (every `every`-th frame): normal footage only."""
    found = []
    for clip in sorted((PED2 / "train").glob("*.mp4")):
        found += detector.detect(list(iter_video_frames(clip))[::every])
    out: dict = {"frames": len(found), "every": every}
    for minimum in THRESHOLDS:
        frames_with: Counter[str] = Counter()
        for detections in found:
            frames_with.update(
                {d.class_name for d in detections if d.confidence >= minimum} - {"person"}
            )
        out[f"conf>={minimum}"] = dict(frames_with.most_common())
    return out


def test_04_objects(detector: Detector) -> dict:
    """The anomalies of test_04 (a cart from about frame 30, a cyclist from about 125 to 179)."""
    found = detector.detect(list(iter_video_frames(PED2 / "test" / "test_04.mp4")))

    def share(label: str, minimum: float, start: int, stop: int) -> float:
        hits = sum(
            any(d.class_name == label and d.confidence >= minimum for d in frame)
            for frame in found[start:stop]
        )
        return round(hits / max(1, len(found[start:stop])), 3)

    return {
        "vehicle>=0.4 frames 0-29": share("vehicle", 0.4, 0, 30),
        "vehicle>=0.4 frames 30-179": share("vehicle", 0.4, 30, 180),
        "bicycle>=0.3 frames 0-119": share("bicycle", 0.3, 0, 120),
        "bicycle>=0.3 frames 120-179": share("bicycle", 0.3, 120, 180),
    }


def speed(folder: Path, threads: int, count: int) -> dict:
    """ms a frame, one frame per call (a camera), after a warm-up of 10 frames; and the CPU
    ms a frame when a worker runs a window of 16 frames as one batch."""
    options = {**detector_options(EncoderConfig()), "threads": threads, "batch_size": 16}
    detector = open_detector(folder, **options)
    frames = list(iter_video_frames(PED2 / "test" / "test_04.mp4"))[:count]
    for frame in frames[:10]:
        detector.detect([frame])
    times, cpu = [], []
    for frame in frames:
        started, started_cpu = time.perf_counter(), time.process_time()
        detector.detect([frame])
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    windows = [frames[i : i + 16] for i in range(0, len(frames) - 15, 16)]
    started_cpu = time.process_time()
    for window in windows:
        detector.detect(window)
    batched = (time.process_time() - started_cpu) * 1000 / (16 * len(windows))
    return {
        "threads": threads,
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(sorted(times)[int(0.9 * len(times))], 2),
        # CPU time of the process per frame: what the frame costs, less sensitive than wall
        # time to other processes sharing the cores
        "median_cpu_ms": round(statistics.median(cpu), 2),
        "batch16_cpu_ms_per_frame": round(batched, 2),
        "frames": len(times),
        "load_average": os.getloadavg()[0],
    }


def pinned_speed(folder: Path, cores: str, threads: int, count: int) -> dict:
    """`speed` in a child process pinned to `cores` with taskset (a fair core count)."""
    command = ["taskset", "-c", cores, sys.executable, __file__, "--speed-only", str(folder)]
    command += ["--threads", str(threads), "--frames", str(count)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return {"cores": cores, **json.loads(done.stdout.strip().splitlines()[-1])}


def model_folder(args) -> Path:
    if args.model_dir:
        folder = export_dir(Path(args.model_dir), args.model)
        if not folder.exists():
            from tests.support.real_models import exported

            exported(args.model, Path(args.model_dir))
        return folder
    from service.settings import Settings

    return export_dir(Settings().model_dir, args.model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ssd-mobilenetv2-oidv4")
    parser.add_argument("--model-dir", default="")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--speed-only", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.speed_only:
        print(json.dumps(speed(Path(args.speed_only), args.threads, args.frames)))
        return
    folder = model_folder(args)
    options = {**detector_options(EncoderConfig()), "confidence": min(THRESHOLDS), "threads": 2}
    detector = open_detector(folder, **options)
    report = {
        "model": args.model,
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.processor() or ''}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "speed": [
            pinned_speed(folder, "0", 1, args.frames),
            pinned_speed(folder, "0,1", 2, args.frames),
        ],
        "person_recall": person_recall(detector),
        "false_detections_train_01": false_detections(detector),
        "false_detections_all_training": false_detections_all_training(detector),
        "test_04": test_04_objects(detector),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
