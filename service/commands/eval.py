"""`vad eval`: stage 1 (what the worker runs with the installed models) beside the optical-flow
reference, fitted on normal footage and scored on labelled footage: frame-level ROC-AUC / AP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from service.context import fail, get_context
from vad.eval import suite

app = typer.Typer(
    help=(
        "Fit stage 1 (with every installed model the worker would use) and the optical-flow "
        "reference on normal footage; report frame-level ROC-AUC / AP side by side."
    ),
    no_args_is_help=True,
)

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")]
ScoresOut = Annotated[
    Path | None,
    typer.Option(
        "--scores-out",
        file_okay=False,
        help=(
            "Write per-frame scores here: DIR/<dataset>/<variant>/{labels,stage1,stage1-<term>,"
            "reference}.npz, one array per test clip."
        ),
    ),
]
AnalysisFps = Annotated[
    float | None,
    typer.Option(
        "--fps",
        min=0.1,
        max=60,
        help=(
            "Analysis frames per second: footage faster than this is sampled by media time as "
            "ingest samples a camera (default: VAD_INGEST__DEFAULT_FPS, what the worker runs)."
        ),
    ),
]
RequireAppearance = Annotated[
    bool,
    typer.Option(
        "--appearance",
        help=(
            "Fit and fuse the appearance model (off by default, as in the worker: "
            "VAD_APPEARANCE__ENABLED) and fail unless its encoder is installed."
        ),
    ),
]


def _analysis_fps(ctx: typer.Context, fps: float | None) -> float:
    return fps if fps is not None else get_context(ctx).settings.ingest.default_fps


def _stage1_factory(ctx: typer.Context, require_appearance: bool = False):
    """A maker of fresh `Stage1`s sharing the installed encoders (loaded once), or a clear
    error when an installed model cannot be opened or a required one is missing."""
    from vad.encoders.runtime import ModelError, fix_hint
    from vad.eval.stage1 import Stage1, installed_encoders

    settings = get_context(ctx).settings
    if require_appearance:
        looks = settings.appearance.model_copy(update={"enabled": True})
        settings = settings.model_copy(update={"appearance": looks})
    try:
        encoders = installed_encoders(settings)
    except ModelError as error:
        fail(f"an installed stage-1 model cannot be loaded ({error})")
    name = settings.appearance.encoder
    if require_appearance and encoders.tiles is None:
        fail(f"--appearance needs the encoder {name!r}, not installed; {fix_hint(name)}")
    for stage, why in encoders.off.items():
        typer.echo(f"stage 1 without {stage}: {why}", err=True)
    return lambda: Stage1(settings, encoders)


class _Bars:
    """Rich progress bars on stderr, one per row, drawn only on a terminal (stdout stays clean
    for --json; a log or pipe gets no bar)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        console = Console(stderr=True)
        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self.tasks: dict[str, int] = {}

    def __call__(self, row: str, phase: str, done: int, total: int) -> None:
        if row not in self.tasks:
            self.tasks[row] = self.progress.add_task(row, total=total)
        self.progress.update(self.tasks[row], completed=done, description=f"{row}: {phase}")

    def __enter__(self) -> _Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()


def _emit(result: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"stage 1 = {' + '.join(result['stage1_parts'])}  |  reference = flow")
    for i, column in enumerate(suite.TABLE_HEADER):
        table.add_column(column, justify="left" if i < 2 else "right", no_wrap=True)
    for cells in suite.table_rows(result):
        table.add_row(*cells)
    Console(width=max(220, Console().width)).print(table)


def _run(ctx: typer.Context, cameras, scores_out: Path | None, require_appearance: bool) -> dict:
    """Rows of `cameras` ((camera, variant) pairs) as one suite result, with progress bars."""
    make_stage1 = _stage1_factory(ctx, require_appearance)
    with _Bars() as bars:
        return suite.run_rows(cameras, make_stage1, bars, scores_out)


@app.command("suite")
def suite_command(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            exists=True,
            file_okay=False,
            help="Folder of datasets, each with train/, test/ and test_labels.json.",
        ),
    ],
    as_json: AsJson = False,
    scores_out: ScoresOut = None,
    robustness: Annotated[
        str,
        typer.Option(
            help=(
                "Dataset replayed at half and double the frame rate, upscaled 2x and shaken"
                " ('' = none)."
            )
        ),
    ] = suite.ROBUSTNESS_DATASET,
    fps: AnalysisFps = None,
) -> None:
    """Every dataset under --data, plus robustness rows: one table, stage 1 beside the
    reference. Every run reads test labels: record it in docs/benchmarks-normality.md."""
    try:
        cameras = suite.suite_cameras(data, robustness or None, fps=_analysis_fps(ctx, fps))
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error)) from error
    result = {"data": str(data), **_run(ctx, cameras, scores_out, False)}
    _emit(result, as_json)


@app.command("ped2")
def ped2(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            exists=True,
            file_okay=False,
            help="A dataset folder with train/, test/ and test_labels.json (UCSD Ped2's layout).",
        ),
    ],
    as_json: AsJson = False,
    scores_out: ScoresOut = None,
    videos: Annotated[
        str | None, typer.Option("--videos", help="Comma-separated test videos (default: all).")
    ] = None,
    appearance: RequireAppearance = False,
    fps: AnalysisFps = None,
) -> None:
    """One dataset folder (Ped2's protocol): fit on train/, score test/, pooled frame AUC."""
    subset = [v.strip() for v in videos.split(",") if v.strip()] if videos else None
    try:
        camera = suite.dataset_camera(data, subset, fps=_analysis_fps(ctx, fps))
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error)) from error
    _emit(_run(ctx, [(camera, suite.PLAIN)], scores_out, appearance), as_json)


@app.command("videos")
def videos_command(
    ctx: typer.Context,
    train: Annotated[
        Path,
        typer.Option(
            "--train", exists=True, file_okay=False, help="Folder of normal clips of the camera."
        ),
    ],
    videos: Annotated[
        Path,
        typer.Option(
            "--videos",
            exists=True,
            file_okay=False,
            help="Folder of test clips of the same camera.",
        ),
    ],
    labels: Annotated[
        Path,
        typer.Option(
            "--labels",
            exists=True,
            dir_okay=False,
            help="UCF-Crime temporal annotation (.txt) or Ped2-style .json.",
        ),
    ],
    as_json: AsJson = False,
    scores_out: ScoresOut = None,
    appearance: RequireAppearance = False,
    fps: AnalysisFps = None,
) -> None:
    """Any camera: fit on --train clips, score the labelled --videos clips."""
    try:
        camera = suite.labelled_camera(train, videos, labels, fps=_analysis_fps(ctx, fps))
    except (ValueError, FileNotFoundError, KeyError) as error:
        raise typer.BadParameter(str(error)) from error
    _emit(_run(ctx, [(camera, suite.PLAIN)], scores_out, appearance), as_json)


@app.command("stage2")
def stage2_command(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            exists=True,
            file_okay=False,
            help="A dataset folder with train/, test/ and test_labels.json (UCSD Ped2's layout).",
        ),
    ],
    as_json: AsJson = False,
    videos: Annotated[
        str | None, typer.Option("--videos", help="Comma-separated test videos (default: all).")
    ] = None,
    max_windows: Annotated[
        int | None,
        typer.Option("--max-windows", min=1, help="Analyse at most N flagged windows (slow LLM)."),
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="The camera's context prompt, if any.")
    ] = None,
    fps: AnalysisFps = None,
) -> None:
    """Stage 1, then stage 2 (scene descriptions + the LLM) on the windows stage 1 flags: window
    AUC and false alarms per hour at 90 % recall, before and after fusion; seconds per window."""
    from vad.encoders.detectors import installed_detector
    from vad.encoders.runtime import ModelError, fix_hint
    from vad.eval.stage2 import evaluate_stage2
    from vad.stage2.backends import BackendUnavailable
    from vad.stage2.chain import Stage2Chain
    from vad.stage2.loading import build_llm
    from vad.stage2.scene import SCENE_PREFIX, SceneSource

    settings = get_context(ctx).settings
    subset = [v.strip() for v in videos.split(",") if v.strip()] if videos else None
    try:
        camera = suite.dataset_camera(data, subset, fps=_analysis_fps(ctx, fps))
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error)) from error
    name = settings.encoders.detector
    try:
        detector = installed_detector(settings.model_dir, settings.encoders)
        llm = build_llm(settings)
    except (ModelError, BackendUnavailable) as error:
        fail(str(error))
    if detector is None:
        fail(f"scene descriptions need the detector {name!r}, not installed; {fix_hint(name)}")
    chain = Stage2Chain(SceneSource(f"{SCENE_PREFIX}{detector.name}"), llm, settings.stage2)
    stage1 = _stage1_factory(ctx)()

    def tell(phase: str, done: int, total: int) -> None:
        typer.echo(f"{phase}: {done}/{total or '?'}", err=True)

    result = evaluate_stage2(
        camera.train,
        camera.test,
        dict(camera.labels),
        stage1,
        detector,
        chain,
        settings,
        fps=camera.fps,
        max_windows=max_windows,
        context=context,
        progress=tell,
    )
    result["dataset"] = camera.name
    result["stage1_parts"] = stage1.parts
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        if key not in ("examples", "scene_norms"):
            typer.echo(f"{key:<30} {value}")
