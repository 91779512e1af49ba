"""Cost of the appearance model (CLIP tiles) at learn time and in the worker, on one core.

A ViT-B/32-sized CLIP with random weights (transformers' CLIPConfig defaults, exported by the
same code as `vad models export`; speed does not depend on the weights) embeds the square tiles of
real UCSD Ped2 frames. Reports: learn-time CPU seconds per training frame at `learn_every`
(embedding + fit), the fit alone, and worker scoring frames per CPU second (tiles embedded and
scored). Quality cannot be measured without the real weights (docs/benchmarks-normality.md).

    OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/appearance.py [--train-videos 4]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.encoders import PED2, vit_b32_pulled  # noqa: E402
from vad.encoders.clip import ClipEncoder  # noqa: E402
from vad.encoders.export import export_clip  # noqa: E402
from vad.scoring.appearance_normality import (  # noqa: E402
    AppearanceNormalityConfig,
    embed_tiles,
    fit_appearance_model,
)
from vad.video import iter_video_frames  # noqa: E402


def cpu(fn):
    started = time.process_time()
    result = fn()
    return result, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-videos", type=int, default=4)
    parser.add_argument("--score-frames", type=int, default=60)
    args = parser.parse_args()
    config = AppearanceNormalityConfig()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        exported = export_clip(vit_b32_pulled(root / "pulled"), root / "vit-b32", name="vit-b32")
        encoder = ClipEncoder.load(exported, threads=1, batch_size=16)
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
        _, score_s = cpu(
            lambda: [
                model.score(embed_tiles(encoder, frames[i : i + 8], config.tile_rows))
                for i in range(0, len(frames), 8)
            ]
        )
    tiles = sum(len(e) for e in embedded) * model.bank.shape[0]
    print(
        json.dumps(
            {
                "encoder": "CLIP ViT-B/32 size, random weights, ORT CPU, 1 thread",
                "train_frames": frames_seen,
                "learn_every": config.learn_every,
                "tiles_per_frame": int(model.bank.shape[0]),
                "learn_embed_cpu_s": round(embed_s, 1),
                "learn_tiles_per_cpu_s": round(tiles / embed_s, 1),
                "learn_cpu_s_per_training_frame": round((embed_s + fit_s) / frames_seen, 3),
                "fit_only_cpu_s": round(fit_s, 2),
                "score_frames_per_cpu_s": round(len(frames) / score_s, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
