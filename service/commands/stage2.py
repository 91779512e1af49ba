"""`vad stage2-worker` (the process serving the `stage2` queue) and `vad stage2
status|show|calibrate`."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from pathlib import Path

import typer

from db import stage2 as s2
from db.session import make_engine, make_sessionmaker
from service.context import fail, get_context
from vad.stage2.loading import stage2_status
from vad.stage2.weight import weights_in

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Stage 2: captions and LLM scoring of flagged windows.", no_args_is_help=True
)


def stage2_worker(
    ctx: typer.Context,
    name: str = typer.Option("stage2", "--name", help="Worker node name."),
) -> None:
    """(internal) Run stage 2 on the windows stage 1 flags (Celery queue `stage2`)."""
    from frames.reader import FrameReader
    from vad.encoders.detectors.keyframes import KeyFrameDetector
    from vad.stage2.backends import BackendUnavailable
    from vad.stage2.loading import build_chain
    from vad.stage2.scene import SceneSource
    from webhooks.delivery import celery_sender
    from workers.celery_app import STAGE2_QUEUE, make_celery, serve_queue
    from workers.stage2 import (
        SceneDescriber,
        Stage2Runner,
        register_stage2_tasks,
        start_sweeper,
    )
    from workers.stage2_gate import celery_stage2_sender

    app_ctx = get_context(ctx)
    settings, endpoints = app_ctx.settings, app_ctx.endpoints()
    try:
        chain = build_chain(settings)
    except BackendUnavailable as error:
        fail(str(error))
    log.info("stage 2 models: %s", chain.models())
    sessions = make_sessionmaker(make_engine(endpoints.database_url))
    celery = make_celery(settings, endpoints)
    reader = FrameReader(endpoints.kafka_bootstrap)
    scene = None
    if isinstance(chain.captioner, SceneSource):  # captions = the detector's scene descriptions
        from vad.encoders.detectors import installed_detector

        detector = installed_detector(settings.model_dir, settings.encoders)
        scene = SceneDescriber(KeyFrameDetector.like_learning(detector, settings.objects), sessions)
    runner = Stage2Runner(
        settings, sessions, reader, chain, send_delivery=celery_sender(celery), scene=scene
    )
    register_stage2_tasks(celery, runner)
    stop = threading.Event()
    start_sweeper(sessions, celery, celery_stage2_sender(celery), settings.stage2, stop)
    serve_queue(celery, STAGE2_QUEUE, name, stop=stop)


@app.command("status")
def status(
    ctx: typer.Context,
    minutes: float = typer.Option(
        None, "--minutes", min=0.1, help="Count only requests of the last N minutes."
    ),
) -> None:
    """Is stage 2 on (and how to turn it on), and what happened to the requests."""
    app_ctx = get_context(ctx)
    state = stage2_status(app_ctx.settings)
    typer.echo(f"stage 2 is {state.describe()}")
    since = timedelta(minutes=minutes) if minutes else None
    with app_ctx.sessions()() as session:
        counts = s2.counts(session, since)
        folders = s2.model_folders(session)
    max_weight = app_ctx.settings.stage2.fusion_weight
    for camera, folder in folders:
        for weight in weights_in(Path(folder) if folder else None, max_weight):
            typer.echo(f"  camera {camera}: {weight.describe()}")
    if not counts:
        typer.echo("no stage-2 requests yet")
        return
    for (outcome, reason), n in sorted(counts.items()):
        typer.echo(f"  {outcome:<8} {reason or '-':<14} {n:>8}")


@app.command("show")
def show(
    ctx: typer.Context,
    incident: int = typer.Argument(..., help="Incident id."),
) -> None:
    """The stage-2 analyses of one incident as JSON (captions, summary, scores, explanation)."""
    fields = [
        "id", "window_id", "status", "reason", "trigger", "frame_indices", "frame_times",
        "captions_raw", "captions_clean", "cleaning", "summary", "answer", "answer_error",
        "llm_score", "score", "score_source", "refined_score", "refined_from", "stage1_peak",
        "fused_score", "explanation", "captioner", "llm", "encoder", "prompt_version", "seconds",
    ]  # fmt: skip
    with get_context(ctx).sessions()() as session:
        docs = [{f: getattr(r, f) for f in fields} for r in s2.for_incident(session, incident)]
    typer.echo(json.dumps(docs, indent=2, default=str))


@app.command("calibrate")
def calibrate(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Camera name (learned: its scene norms are used)."),
    source: Path = typer.Option(
        ..., "--from", help="The camera's NORMAL footage: a video file or a folder."
    ),
) -> None:
    """Set stage 2's fusion weight for this camera and the configured LLM: the LLM rates
    `stage2.calibration_windows` windows of normal footage; a model whose ratings of them are
    low and spread may raise scores above them, any other explains only (weight 0)."""
    from db import camera_queries, model_registry
    from service.learning import file_clips, footage_files
    from vad.encoders.detectors import installed_detector
    from vad.encoders.detectors.keyframes import KeyFrameDetector
    from vad.stage2.backends import BackendUnavailable
    from vad.stage2.calibration import rate_normal_windows
    from vad.stage2.loading import build_chain
    from vad.stage2.scene import SceneNorms, SceneSource
    from vad.stage2.weight import fit_weight, save_ratings

    app_ctx = get_context(ctx)
    settings = app_ctx.settings
    with app_ctx.sessions()() as session:
        try:
            camera = camera_queries.get_camera(session, name)
        except camera_queries.CameraNotFound as error:
            fail(str(error))
        record = model_registry.latest_model(session, camera.id)
        fps, context = settings.ingest.camera_fps(camera.fps), camera.context
    if record is None:
        fail(f"camera {name!r} has no model yet: `vad camera learn {name} --from FOOTAGE` first")
    try:
        files = footage_files(source)
        chain = build_chain(settings)
    except (ValueError, BackendUnavailable) as error:
        fail(str(error))
    if not isinstance(chain.captioner, SceneSource):
        fail(
            "calibration rates the detector's scene descriptions; with a captioner configured "
            "(VAD_STAGE2__CAPTIONER_URL / a captioner folder) it is not supported yet"
        )
    detector = KeyFrameDetector.like_learning(
        installed_detector(settings.model_dir, settings.encoders), settings.objects
    )  # as `vad camera learn` fitted the scene norms
    folder = Path(record.path)
    timed = list(file_clips(files, fps, settings.ingest))
    clips = [list(c) for c in timed]
    rate = next((c.rate for c in timed if c.rate), fps)  # the stride's rate, as the worker runs
    per_window = max(1, int(round(settings.windows.seconds * rate)))
    ratings = rate_normal_windows(
        clips, rate, per_window, SceneNorms.load(folder), detector, chain,
        settings.stage2.calibration_windows, context,
        lambda phase, done, total: typer.echo(f"{phase}: {done}/{total}", err=True),
    )  # fmt: skip
    save_ratings(folder, chain.llm.name, ratings)
    weight = fit_weight(chain.llm.name, ratings, settings.stage2.fusion_weight)
    typer.echo(f"camera {name}: {weight.describe()}")
