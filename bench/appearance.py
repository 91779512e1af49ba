"""Cost of the appearance model (tiles embedded by its encoder) at learn time and in the worker,
on one core.

`--encoder mobilenetv2` (the default encoder) or `--encoder vit-b32` (a ViT-B/32-sized CLIP):
both with random weights exported by the same code as `vad models export` (speed does not depend
on the weights), embedding the square tiles of real UCSD Ped2 frames. Reports: learn-time CPU
seconds per training frame at `learn_every` (embedding + fit), the fit alone, and worker scoring
frames per CPU second (tiles embedded and scored) at 360x240 (6 tiles) and 1280x720 (8 tiles).
Quality is `vad eval ped2 --appearance` (docs/benchmarks-normality.md).

    OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/appearance.py [--encoder vit-b32]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.encoders import PED2, vit_b32_pulled  # noqa: E402
from tests.support.tiny_models import write_pulled_mobilenet  # noqa: E402
from vad.encoders.backbones.export import export_backbone  # noqa: E402
from vad.encoders.clip import ClipEncoder  # noqa: E402
from vad.encoders.export import export_clip  # noqa: E402
from vad.encoders.image import ImageEncoder  # noqa: E402
from vad.scoring.appearance_normality import (  # noqa: E402
    AppearanceNormalityConfig,
    embed_tiles,
    fit_appearance_model,
)
from vad.video import iter_video_frames  # noqa: E402

ENCODERS = {
    "mobilenetv2": "MobileNetV2 (224 px), random weights, ORT CPU, 1 thread",
    "vit-b32": "CLIP ViT-B/32 size, random weights, ORT CPU, 1 thread",
}


def cpu(fn):
    started = time.process_time()
    result = fn()
    return result, time.process_time() - started


def load_encoder(kind: str, root: Path):
    if kind == "vit-b32":
        exported = export_clip(vit_b32_pulled(root / "pulled"), root / kind, name=kind)
        return ClipEncoder.load(exported, threads=1, batch_size=16)
    weights = write_pulled_mobilenet(root / "pulled")
    return ImageEncoder.load(export_backbone(weights, root / kind, name=kind), threads=1)


def scoring_rate(encoder, frames, config: AppearanceNormalityConfig) -> float:
    """Frames per CPU-second through tile embedding and scoring, in 8-frame windows."""
    size = (frames[0].shape[1], frames[0].shape[0])
    clip = embed_tiles(encoder, frames[:8], config.tile_rows)
    model = fit_appearance_model(
        [clip, clip], encoder.name, size, config.model_copy(update={"folds": 2})
    )
    _, seconds = cpu(
        lambda: [
            model.score(embed_tiles(encoder, frames[i : i + 8], config.tile_rows))
            for i in range(0, len(frames), 8)
        ]
    )
    return round(len(frames) / seconds, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=sorted(ENCODERS), default="mobilenetv2")
    parser.add_argument("--train-videos", type=int, default=4)
    parser.add_argument("--score-frames", type=int, default=64)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    config = AppearanceNormalityConfig()
    with tempfile.TemporaryDirectory() as tmp:
        encoder = load_encoder(args.encoder, Path(tmp))
        train = sorted((PED2 / "train").glob("*.mp4"))[: args.train_videos]
        clips = [list(iter_video_frames(p)) for p in train]
        frames_seen = sum(len(c) for c in clips)
        embedded, embed_s = cpu(
            lambda: [
                embed_tiles(encoder, c[:: config.learn_every], config.tile_rows) for c in clips
            ]
        )
        model, fit_s = cpu(lambda: fit_appearance_model(embedded, encoder.name, (360, 240), config))
        test = PED2 / "test" / "test_04.mp4"
        frames = list(itertools.islice(iter_video_frames(test), args.score_frames))
        hd = [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for f in frames]
        rates = {"360x240": scoring_rate(encoder, frames, config)}
        rates["1280x720"] = scoring_rate(encoder, hd, config)
    tiles = sum(len(e) for e in embedded) * model.bank.shape[0]
    print(
        json.dumps(
            {
                "encoder": ENCODERS[args.encoder],
                "train_frames": frames_seen,
                "learn_every": config.learn_every,
                "tiles_per_frame": int(model.bank.shape[0]),
                "learn_embed_cpu_s": round(embed_s, 1),
                "learn_tiles_per_cpu_s": round(tiles / embed_s, 1),
                "learn_cpu_s_per_training_frame": round((embed_s + fit_s) / frames_seen, 3),
                "fit_only_cpu_s": round(fit_s, 2),
                "score_frames_per_cpu_s": rates,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
