"""`vad eval`: offline benchmarks of the per-camera normality model on labelled footage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from service.context import fail, get_context
from vad.eval import evaluate_ped2, evaluate_videos
from vad.scoring.normality import NormalityConfig

app = typer.Typer(
    help="Fit the normality model on normal footage and report frame-level ROC-AUC / AP.",
    no_args_is_help=True,
)


def _format_table(result: dict) -> str:
    """Two-column summary, then per-video AUC; None prints as '-'."""

    def fmt(value: object) -> str:
        if value is None:
            return "-"
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    keys = [
        "auc",
        "ap",
        "frames",
        "anomalous_frames",
        "videos",
        "fit_seconds",
        "train_frames",
        "scoring_fps",
        "internal_size",
        "appearance_encoder",
        "appearance_fit_seconds",
        "pixel_only_auc",
        "velocity_only_auc",
        "mean_per_video_auc",
        "pixel_only_mean_per_video_auc",
        "velocity_only_mean_per_video_auc",
        "appearance_only_auc",
    ]
    lines = [f"{k:<18}{fmt(result.get(k))}" for k in keys if k in result]
    per_video = result.get("per_video_auc") or {}
    if per_video:
        lines += ["", f"{'video':<18}auc"]
        lines += [f"{name:<18}{fmt(auc)}" for name, auc in sorted(per_video.items())]
    return "\n".join(lines)


def _emit(result: dict, as_json: bool) -> None:
    typer.echo(json.dumps(result, indent=2) if as_json else _format_table(result))


DataDir = Annotated[
    Path,
    typer.Option(
        "--data",
        exists=True,
        file_okay=False,
        help="UCSD Ped2 folder with train/, test/ and test_labels.json.",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ScoresOut = Annotated[
    Path | None,
    typer.Option("--scores-out", help="Write each video's per-frame scores here (JSON)."),
]
WithAppearance = Annotated[
    bool,
    typer.Option(
        "--appearance",
        help=(
            "Also fit the appearance model with its installed encoder (VAD_APPEARANCE__ENCODER, "
            "default mobilenetv2) and fuse it by max, as the worker does (the pixel model's own "
            "AUC is reported as pixel_only_auc)."
        ),
    ),
]
Subset = Annotated[
    str | None, typer.Option("--videos", help="Comma-separated test videos (default: all).")
]
TrainDir = Annotated[
    Path,
    typer.Option(
        "--train", exists=True, file_okay=False, help="Folder of normal clips of the camera."
    ),
]
VideosDir = Annotated[
    Path,
    typer.Option(
        "--videos", exists=True, file_okay=False, help="Folder of test clips of the same camera."
    ),
]
LabelsFile = Annotated[
    Path,
    typer.Option(
        "--labels",
        exists=True,
        dir_okay=False,
        help="UCF-Crime temporal annotation (.txt) or Ped2-style .json.",
    ),
]


def _appearance(ctx: typer.Context, wanted: bool):
    """The evaluation's appearance model, or a clear error when its encoder is not installed."""
    if not wanted:
        return None
    from vad.encoders.image import tile_encoder
    from vad.encoders.runtime import ModelError, fix_hint
    from vad.eval.runner import Appearance

    settings = get_context(ctx).settings
    name = settings.appearance.encoder
    try:
        encoder = tile_encoder(settings.model_dir, name, settings.encoders)
    except ModelError as error:
        fail(f"the appearance encoder cannot be loaded ({error})")
    if encoder is None:
        fail(f"--appearance needs the encoder {name!r}, not installed; {fix_hint(name)}")
    return Appearance(encoder, settings.appearance)


@app.command("ped2")
def ped2(
    ctx: typer.Context,
    data: DataDir,
    as_json: AsJson = False,
    scores_out: ScoresOut = None,
    videos: Subset = None,
    appearance: WithAppearance = False,
) -> None:
    """Standard Ped2 protocol: fit on train/, score every test frame, pooled frame-level AUC."""
    subset = [v.strip() for v in videos.split(",") if v.strip()] if videos else None
    looks = _appearance(ctx, appearance)
    try:
        result = evaluate_ped2(
            data,
            NormalityConfig(),
            subset=subset,
            scores_out=scores_out,
            appearance=looks,
            velocity=get_context(ctx).settings.velocity,
        )
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error)) from error
    _emit(result, as_json)


@app.command("videos")
def videos_command(
    ctx: typer.Context,
    train: TrainDir,
    videos: VideosDir,
    labels: LabelsFile,
    as_json: AsJson = False,
    scores_out: ScoresOut = None,
    appearance: WithAppearance = False,
) -> None:
    """Any camera: fit on --train clips, score the labelled --videos clips."""
    looks = _appearance(ctx, appearance)
    try:
        result = evaluate_videos(
            train,
            videos,
            labels,
            NormalityConfig(),
            scores_out=scores_out,
            appearance=looks,
            velocity=get_context(ctx).settings.velocity,
        )
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error)) from error
    _emit(result, as_json)
