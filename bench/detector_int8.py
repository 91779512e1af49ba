"""int8 dynamic quantisation of the default SSD (`onnxruntime.quantization.quantize_dynamic`,
QUInt8 weights): CPU time per frame against float32 on one thread, and whether the detections
stay the same, on Ped2 train_01's first 100 frames (normal footage; no test label).

    OMP_NUM_THREADS=1 nice -n 10 python bench/detector_int8.py [--model-dir /tmp/evalmodels]

Result (docs/benchmarks-normality.md, speed round): slower and different, not adopted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vad.encoders.detectors import open_detector  # noqa: E402
from vad.encoders.registry import SSD_OIDV4, export_dir  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402

CLIP = ROOT.parent / "shared" / "data" / "ucsd_ped2" / "train" / "train_01.mp4"


def quantised_copy(src: Path, dst: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    shutil.copytree(src, dst)
    model = json.loads((dst / "manifest.json").read_text())["files"]["model"]
    quantize_dynamic(str(src / model), str(dst / model), weight_type=QuantType.QUInt8)
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/evalmodels"))
    args = parser.parse_args()
    src = export_dir(args.model_dir, SSD_OIDV4)
    frames = list(iter_video_frames(CLIP))[:100]
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in (("fp32", src), ("int8", quantised_copy(src, Path(tmp) / "int8"))):
            detector = open_detector(folder, threads=1)
            detector.detect(frames[:4])
            start = time.process_time()
            found[name] = detector.detect(frames)
            ms = (time.process_time() - start) / len(frames) * 1000
            print(f"{name}: {ms:.1f} ms CPU a frame, {sum(map(len, found[name]))} boxes")
    pairs = list(zip(found["fp32"], found["int8"], strict=True))
    same = np.mean([[d.class_name for d in a] == [d.class_name for d in b] for a, b in pairs])
    print(f"frames with the same class list: {same:.0%}")


if __name__ == "__main__":
    main()
