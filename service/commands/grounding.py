"""`vad train grounding` and `vad eval grounding`: the grounding head on UCA-format annotations.

Input: a UCA folder (`UCFCrime_{Train,Val,Test}.json`) and a folder of per-video embedding files
(`vad.grounding.data`: `<video>.npz` with `embeddings` (T, D) and `timestamps` (T,), plus
`texts.npz`). Training needs torch (the `export` extra); evaluation and serving do not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from service.context import fail, get_context
from vad.grounding import uca
from vad.grounding.data import samples

train_app = typer.Typer(help="Train models offline (needs the `export` extra).")

UcaDir = Annotated[
    Path,
    typer.Option("--uca", exists=True, file_okay=False, help="Folder of UCFCrime_<Split>.json."),
]
EmbeddingsDir = Annotated[
    Path,
    typer.Option(
        "--embeddings", exists=True, file_okay=False, help="Folder of <video>.npz + texts.npz."
    ),
]


def default_head(model_dir: Path) -> Path:
    return model_dir / "grounding" / "head.npz"


def _text_encoder(settings):
    """CLIP text embeddings for sentences missing from texts.npz, when CLIP is installed."""
    from api.searcher import load_clip

    clip = load_clip(settings)
    return clip.embed_texts if clip is not None else None


def _samples(settings, uca_dir: Path, embeddings: Path, split: str):
    try:
        videos = uca.load(uca.split_file(uca_dir, split))
        found, absent = samples(embeddings, videos, _text_encoder(settings))
    except (uca.UcaError, ValueError) as error:
        fail(str(error))
    if absent:
        typer.echo(f"{split}: {absent} of {len(videos)} videos have no embedding file (skipped)")
    return found


@train_app.command("grounding")
def train_grounding(
    ctx: typer.Context,
    uca_dir: UcaDir,
    embeddings: EmbeddingsDir,
    out: Path = typer.Option(None, "--out", help="Weights file (default <model_dir>/grounding)."),
    split: str = typer.Option("Train", "--split", help="UCA split to train on."),
    epochs: int = typer.Option(40, "--epochs", min=1),
    hidden: int = typer.Option(64, "--hidden", min=4),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Fit the grounding head (foreground, boundary offsets, saliency) over frozen embeddings."""
    settings = get_context(ctx).settings
    try:
        from vad.grounding.train import TrainOptions, train_head
    except ImportError as error:
        fail(f"training needs torch (pip install 'vad-service[export]'): {error}")
    found = _samples(settings, uca_dir, embeddings, split)
    head = train_head(found, TrainOptions(epochs=epochs, hidden=hidden, seed=seed))
    target = out or default_head(settings.model_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    head.save(target)
    typer.echo(f"trained on {len(found)} sentences -> {target}")


def eval_grounding(
    ctx: typer.Context,
    uca_dir: UcaDir,
    embeddings: EmbeddingsDir,
    head_path: Path = typer.Option(None, "--head", help="Trained head (default: installed one)."),
    split: str = typer.Option("Test", "--split", help="UCA split to evaluate on."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """R@1 at IoU 0.3/0.5/0.7 and mIoU of training-free grounding and of the trained head."""
    from vad.grounding.evaluate import evaluate, trained, training_free
    from vad.grounding.head import GroundingHead

    settings = get_context(ctx).settings
    found = _samples(settings, uca_dir, embeddings, split)
    results = {"training-free": evaluate(found, training_free(settings.grounding))}
    path = head_path or default_head(settings.model_dir)
    if path.exists():
        results["trained head"] = evaluate(found, trained(GroundingHead.load(path)))
    elif head_path:
        fail(f"no grounding head at {path}")
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    keys = ["queries", "R@1,IoU=0.3", "R@1,IoU=0.5", "R@1,IoU=0.7", "mIoU"]
    typer.echo(f"{'method':<15}" + "".join(f"{k:>13}" for k in keys))
    for name, result in results.items():
        cells = "".join(
            f"{result[k]:>13.4f}" if isinstance(result[k], float) else f"{result[k]!s:>13}"
            for k in keys
        )
        typer.echo(f"{name:<15}{cells}")
