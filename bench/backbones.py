"""The appearance backbones with their real weights: speed per crop, and whether the weights are
sane (EfficientNet-Lite2's converter calls its conversion "not thoroughly tested").

Pulls and exports `mobilenetv2` and `efficientnet-lite2` into --model-dir if needed (the same
functions as `vad models pull/export`, torch-free), then reports:
- ms per crop through `ImageEncoder.embed_images` (preprocessing + ONNX Runtime), batches of 16
  and of 1, with 1 and 2 intra-op threads, on square tiles of real UCSD Ped2 frames; and ms per
  person for MoveNet Lightning (`PoseEstimator`, pulled with npm);
- EfficientNet-Lite2's own ImageNet classifier (its checkpoint keeps it) on photographs that
  installed packages ship (matplotlib, scikit-learn, ultralytics): top-3 labels;
- person vs background crops of Ped2 training footage (persons = moving blobs against the
  median frame, background = equal-sized squares where nothing moves): how well each backbone's
  features separate them (5-fold logistic-regression AUC, leave-one-out 1-NN accuracy), against
  the same network with each weight tensor's values shuffled (random weights of the same scale).

    OMP_NUM_THREADS=1 .venv/bin/python bench/backbones.py [--model-dir DIR] [--seconds 5]
        [--skip-speed | --speed-only]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.encoders import PED2, rates  # noqa: E402
from vad.encoders import registry  # noqa: E402
from vad.encoders.backbones.checkpoint import load_state_dict  # noqa: E402
from vad.encoders.backbones.families import read_backbone  # noqa: E402
from vad.encoders.backbones.mbconv import to_onnx  # noqa: E402
from vad.encoders.image import ImageEncoder  # noqa: E402
from vad.encoders.pose import PoseEstimator  # noqa: E402
from vad.encoders.preprocess import l2_normalize  # noqa: E402
from vad.scoring.appearance_normality import tiles_of  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402

BACKBONES = ("mobilenetv2", "efficientnet-lite2")


def prepare(model_dir: Path) -> dict[str, Path]:
    """Exported folder of each backbone, pulled and exported when missing."""
    out = {}
    for name in BACKBONES:
        entry = registry.resolve(name)
        folder = registry.export_dir(model_dir, name)
        if not (folder / "manifest.json").is_file():
            if not registry.download_dir(model_dir, name).exists():
                registry.pull(entry, model_dir)
            registry.export(entry, model_dir)
        out[name] = folder
    return out


def ped2_tiles(count: int = 48) -> list[np.ndarray]:
    frames = list(iter_video_frames(PED2 / "test" / "test_04.mp4"))
    tiles = [t for f in frames[:: max(1, len(frames) // 8)] for t in tiles_of(f, 2)]
    return tiles[:count]


def speed(folders: dict[str, Path], seconds: float) -> dict:
    """ms per crop (wall and CPU) by backbone, threads and batch size, timed interleaved."""
    tiles = ped2_tiles(16)
    out: dict = {}
    for threads in (1, 2):
        encoders = {n: ImageEncoder.load(f, threads=threads) for n, f in folders.items()}
        for batch in (16, 1):
            crops = tiles[:batch]
            fns = [lambda e=e, c=crops: e.embed_images(c) for e in encoders.values()]
            for name, (wall, cpu) in zip(encoders, rates(fns, batch, seconds), strict=True):
                out[f"{name} threads={threads} batch={batch}"] = {
                    "ms_per_crop": round(1000 / wall, 2),
                    "cpu_ms_per_crop": round(1000 / cpu, 2),
                }
    return out


def pose_speed(model_dir: Path, seconds: float) -> dict:
    """ms per `PoseEstimator.estimate` (pad, resize, MoveNet, mapping back) on a person box of a
    Ped2 frame, 1 and 2 threads; pulls and exports movenet-lightning when missing (npm)."""
    entry = registry.resolve("movenet-lightning")
    folder = registry.export_dir(model_dir, entry.name)
    if not (folder / "manifest.json").is_file():
        if not registry.download_dir(model_dir, entry.name).exists():
            registry.pull(entry, model_dir)
        registry.export(entry, model_dir)
    frame = next(iter_video_frames(PED2 / "test" / "test_04.mp4"))
    out = {}
    for threads in (1, 2):
        pose = PoseEstimator.load(folder, threads=threads)
        ((wall, cpu),) = rates([lambda p=pose: p.estimate(frame, (150, 100, 200, 170))], 1, seconds)
        out[f"movenet-lightning threads={threads}"] = {
            "ms_per_person": round(1000 / wall, 2),
            "cpu_ms_per_person": round(1000 / cpu, 2),
        }
    return out


def _session(model) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])


def _imagenet_labels() -> list[str]:
    try:
        from torchvision.models._meta import _IMAGENET_CATEGORIES

        return list(_IMAGENET_CATEGORIES)
    except ImportError:
        return [f"class {i}" for i in range(1000)]


def _photographs() -> dict[str, Path]:
    found = {}
    for module, relative in (
        ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
        ("sklearn", "datasets/images/china.jpg"),
        ("sklearn", "datasets/images/flower.jpg"),
        ("ultralytics", "assets/bus.jpg"),
        ("ultralytics", "assets/zidane.jpg"),
    ):
        try:
            package = __import__(module)
        except ImportError:
            continue
        path = Path(package.__file__).parent / relative
        if path.is_file():
            found[path.name] = path
    return found


def classify(folder: Path) -> dict:
    """Top-3 ImageNet labels of EfficientNet-Lite2's own classifier on shipped photographs."""
    encoder = ImageEncoder.load(folder, threads=1)
    backbone = read_backbone(load_state_dict(Path(encoder.manifest["source"])))
    session = _session(to_onnx(backbone.network, backbone.image_size, "logits", logits=True))
    labels = _imagenet_labels()
    out = {}
    for name, path in _photographs().items():
        pixels = encoder.image_spec.preprocess([cv2.imread(str(path))])
        logits = session.run(None, {"pixel_values": pixels})[0][0]
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        top = np.argsort(-probs)[:3]
        out[name] = [f"{labels[i]} ({probs[i]:.2f})" for i in top]
    return out


def person_and_background_crops(videos: int = 8, every: int = 15, seed: int = 0):
    """(person crops, background crops) from Ped2 training clips, by motion against the median."""
    rng = np.random.default_rng(seed)
    people, background = [], []
    for video in sorted((PED2 / "train").glob("*.mp4"))[:videos]:
        frames = list(iter_video_frames(video))
        gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
        median = np.median(np.stack(gray[::5]), axis=0).astype(np.uint8)
        for frame, g in list(zip(frames, gray, strict=True))[::every]:
            moving = (cv2.absdiff(g, median) > 25).astype(np.uint8)
            moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
            moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
            count, _, stats, _ = cv2.connectedComponentsWithStats(moving)
            busy = cv2.dilate(moving, np.ones((15, 15), np.uint8))
            h, w = g.shape
            for x, y, bw, bh, area in stats[1:count]:
                if area < 150 or bh < 20 or bh > h // 2:
                    continue
                side = int(max(bw, bh) * 1.3)
                cx, cy = x + bw // 2, y + bh // 2
                x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
                crop = frame[y0 : y0 + side, x0 : x0 + side]
                if min(crop.shape[:2]) < 24:
                    continue
                people.append(crop)
                for _ in range(20):  # a background square of the same size where nothing moves
                    bx, by = rng.integers(0, w - side), rng.integers(0, h - side)
                    if not busy[by : by + side, bx : bx + side].any():
                        background.append(frame[by : by + side, bx : bx + side])
                        break
    return people, background


def _features(session, encoder: ImageEncoder, crops: list[np.ndarray]) -> np.ndarray:
    parts = []
    for start in range(0, len(crops), 16):
        pixels = encoder.image_spec.preprocess(crops[start : start + 16])
        parts.append(session.run(None, {"pixel_values": pixels})[0])
    return l2_normalize(np.concatenate(parts))


def _separation(features: np.ndarray, labels: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_predict(
        LogisticRegression(C=1.0, max_iter=2000), features, labels, cv=folds,
        method="decision_function",
    )  # fmt: skip
    similarity = features @ features.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = labels[np.argmax(similarity, axis=1)]
    return {
        "logreg_auc": round(float(roc_auc_score(labels, scores)), 4),
        "1nn_accuracy": round(float((nearest == labels).mean()), 4),
    }


def separation(folders: dict[str, Path]) -> dict:
    """Person vs background separability of each backbone's features, real vs shuffled weights."""
    people, background = person_and_background_crops()
    crops = people + background
    labels = np.array([1] * len(people) + [0] * len(background))
    rng = np.random.default_rng(0)
    out: dict = {"crops": {"person": len(people), "background": len(background)}}
    for name, folder in folders.items():
        encoder = ImageEncoder.load(folder, threads=1)
        state = load_state_dict(Path(encoder.manifest["source"]))
        shuffled = {k: rng.permutation(v.ravel()).reshape(v.shape) for k, v in state.items()}
        for variant, weights in (("pretrained", state), ("shuffled weights", shuffled)):
            backbone = read_backbone(weights)
            session = _session(to_onnx(backbone.network, encoder.image_spec.size, name))
            features = _features(session, encoder, crops)
            out[f"{name} {variant}"] = _separation(features, labels)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folders = prepare(args.model_dir or Path(scratch))
        result = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, ORT {ort.__version__}",
        }
        if not args.speed_only:
            result["classifier_top3"] = classify(folders["efficientnet-lite2"])
            result["person_vs_background"] = separation(folders)
        if not args.skip_speed:
            result["speed"] = speed(folders, args.seconds)
            result["pose_speed"] = pose_speed(args.model_dir or Path(scratch), args.seconds)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
