"""ONNX Runtime CPU throughput of the exported encoders, and torch vs ORT on the same model.

Models (random weights, built from configs, nothing downloaded), exported by the same code as
`vad models export`:
- tiny CLIP (the test model: width 32, 2 layers, 64 px),
- a ViT-B/32-sized CLIP (transformers' CLIPConfig defaults: 224 px, 12+12 layers, 512-d),
- YOLO11n at 640 px (ultralytics' export).
Images are real UCSD Ped2 frames. `ort_bN` is what the worker pays (preprocessing + image tower);
`ort_model_bN` and `torch_model_bN` time the image tower alone on the same tensor (the ratio).

    .venv/bin/python bench/encoders.py [--seconds 5] [--threads 2] [--skip-yolo]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import tiny_models  # noqa: E402
from vad.encoders.clip import ClipEncoder  # noqa: E402
from vad.encoders.export import export_clip  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402

PED2 = ROOT.parent / "shared" / "data" / "ucsd_ped2"


def rate(fn, items: int, seconds: float) -> tuple[float, float]:
    """(items per wall second, items per CPU second) of `fn`."""
    return rates([fn], items, seconds)[0]


def rates(fns: list, items: int, seconds: float) -> list[tuple[float, float]]:
    """Items per wall second and per CPU second of each function, calls interleaved (one warm-up
    each) so that a busy shared machine slows them alike. With one thread, items per CPU second
    is what one free core delivers, whatever else runs on the machine."""
    for fn in fns:
        fn()
    wall, cpu = [0.0] * len(fns), [0.0] * len(fns)
    runs = 0
    while runs < 3 or sum(wall) < seconds * len(fns):
        for i, fn in enumerate(fns):
            w, c = time.perf_counter(), time.process_time()
            fn()
            wall[i] += time.perf_counter() - w
            cpu[i] += time.process_time() - c
        runs += 1
    return [(items * runs / w, items * runs / c) for w, c in zip(wall, cpu, strict=True)]


def vit_b32_pulled(folder: Path) -> Path:
    """A folder shaped like a pulled openai/clip-vit-base-patch32, with random weights."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    tokenizer = tiny_models.train_tokenizer()
    config = CLIPConfig(
        text_config={
            "bos_token_id": tokenizer.token_to_id(tiny_models.BOS),
            "eos_token_id": tokenizer.token_to_id(tiny_models.EOS),
            "pad_token_id": tokenizer.token_to_id(tiny_models.EOS),
        }
    )
    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    CLIPModel(config).eval().save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def bench_clip(name: str, model_dir: Path, frames, seconds: float, threads: int) -> dict:
    import torch
    from transformers import CLIPModel

    encoder = ClipEncoder.load(model_dir, threads=threads, batch_size=16)
    model = CLIPModel.from_pretrained(encoder.manifest["source"]).eval()
    out = {"model": name, "image_size": encoder.image_spec.size, "dim": encoder.dim}
    for batch in (1, 16):
        images = frames[:batch]
        pixels = torch.from_numpy(encoder.image_spec.preprocess(images))

        def with_torch(px=pixels):
            with torch.no_grad():
                return model.get_image_features(pixel_values=px)

        numpy_pixels = pixels.numpy()
        e2e, ort_rate, torch_rate = rates(
            [
                lambda im=images: encoder.embed_images(im),
                lambda px=numpy_pixels: encoder.image_features(px),
                with_torch,
            ],
            batch,
            seconds,
        )
        out[f"ort_b{batch}"], out[f"ort_b{batch}_per_cpu_s"] = e2e
        out[f"ort_model_b{batch}"], out[f"ort_model_b{batch}_per_cpu_s"] = ort_rate
        out[f"torch_model_b{batch}"], out[f"torch_model_b{batch}_per_cpu_s"] = torch_rate
        out[f"ratio_b{batch}"] = ort_rate[0] / torch_rate[0]
        out[f"ratio_b{batch}_cpu"] = ort_rate[1] / torch_rate[1]
    texts = ["someone climbs the fence"] * 16
    out["ort_text_b16"], out["ort_text_b16_per_cpu_s"] = rate(
        lambda: encoder.embed_texts(texts), 16, seconds
    )
    return out


def bench_yolo(folder: Path, frames, seconds: float, threads: int) -> dict:
    from vad.encoders.detectors import Detector
    from vad.encoders.export import export_yolo

    pulled = tiny_models.write_pulled_yolo(folder / "downloads" / "yolo11n")
    exported = export_yolo(pulled, folder / "encoders" / "yolo11n", image_size=640)
    detector = Detector.load(exported, threads=threads)
    out = {"model": "yolo11n (random weights)", "image_size": 640}
    for batch in (1, 16):
        images = frames[:batch]
        out[f"ort_b{batch}"], out[f"ort_b{batch}_per_cpu_s"] = rate(
            lambda im=images: detector.detect(im), batch, seconds
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="Timing per measurement.")
    parser.add_argument("--skip-yolo", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="Threads for torch and ORT."
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    frames = list(iter_video_frames(PED2 / "test" / "test_04.mp4"))[:16]
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        results.append(
            bench_clip(
                "tiny CLIP", tiny_models.tiny_clip_dir(root), frames, args.seconds, args.threads
            )
        )
        started = time.perf_counter()
        exported = export_clip(
            vit_b32_pulled(root / "downloads" / "vit-b32"), root / "encoders" / "vit-b32"
        )
        export_seconds = time.perf_counter() - started
        vit = bench_clip(
            "CLIP ViT-B/32 (random weights)", exported, frames, args.seconds, args.threads
        )
        vit["export_seconds"] = export_seconds
        results.append(vit)
        if not args.skip_yolo:
            results.append(bench_yolo(root, frames, args.seconds, args.threads))
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or ''}",
        "onnxruntime": __import__("onnxruntime").__version__,
        "torch": torch.__version__,
        "threads": args.threads,
        "load_average_1m_before": load_before,
        "load_average_1m_after": os.getloadavg()[0],
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
