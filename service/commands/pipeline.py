"""`vad up`, `vad run` and the pipeline processes they start (`dispatcher`, `worker`, `ingest`)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import typer

from db import camera_queries, incident_queries, model_registry
from db.incident_serializer import CLI, serialize_incident
from db.models import Camera
from db.secrets import SecretBox, open_url, seal_url
from db.session import make_engine, make_sessionmaker, transaction
from service.commands.incidents import format_incident
from service.context import fail, get_context, stop_event_on_signals
from service.infra import InfraError
from service.settings import Settings
from service.supervisor import Stack
from vad.encoders.registry import StageStatus, stage_status
from vad.urls import redact_url

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CLIP = REPO_ROOT / "demo" / "footage" / "ped2_test_04.mp4"
DEMO_NORMAL = REPO_ROOT / "demo" / "footage" / "normal"
_FUSED_STAGES = ("detector", "appearance", "zero-shot")  # their scores join the pixel model's


def up(
    ctx: typer.Context,
    workers: int = typer.Option(None, "--workers", min=1, help="Celery worker processes."),
) -> None:
    """Start the embedded stack (PostgreSQL, Kafka-API broker, Redis, dispatcher, workers,
    ingest of every enabled camera) and run until Ctrl-C."""
    settings = get_context(ctx).settings
    stop = stop_event_on_signals()
    stack = _start(settings, workers)
    try:
        stack.supervise(stop)
    finally:
        _stop(stack)


def run(
    ctx: typer.Context,
    source: str = typer.Argument(None, help="Video file or stream URL (default: a Ped2 clip)."),
    camera: str = typer.Option("demo", "--camera", help="Camera name to use for the source."),
    loop: bool = typer.Option(True, "--loop/--no-loop", help="Loop a file source."),
    learn: Path = typer.Option(
        None,
        "--learn",
        help="Normal footage (file or folder) to learn from if the camera has no model yet, "
        "or only one learned before the detector or appearance encoder was installed "
        "(default for the demo clip: its bundled normal footage).",
    ),
    workers: int = typer.Option(None, "--workers", min=1, help="Celery worker processes."),
) -> None:
    """The main job: start the stack, watch SOURCE as a camera, print incidents as they open."""
    settings = get_context(ctx).settings
    url = source or _demo_clip()
    if source is None and learn is None:
        learn = DEMO_NORMAL
    stop = stop_event_on_signals()
    stack = _start(settings, workers)
    try:
        sessions = make_sessionmaker(make_engine(stack.endpoints.database_url))
        box = SecretBox.from_file(settings.key_file())
        camera_id = _ensure_camera(sessions, camera, url, loop, box)
        if learn is not None:
            _learn_if_missing(ctx, sessions, camera, camera_id, learn, settings)
        _enable(sessions, camera_id)
        typer.echo(
            f"watching {redact_url(url)} as camera {camera!r}; incidents appear below "
            "(`vad incidents` lists them)."
        )
        tail = threading.Thread(target=_tail_incidents, args=(sessions, stop), daemon=True)
        tail.start()
        stack.supervise(stop)
    finally:
        _stop(stack)


def _start(settings: Settings, workers: int | None) -> Stack:
    stack = Stack(settings, workers)
    typer.echo("starting the embedded stack ...")
    try:
        endpoints = stack.start()
    except InfraError as error:
        fail(str(error))
    logs = settings.resolved_data_dir() / "logs"
    typer.echo(f"  PostgreSQL  {endpoints.database_url}")
    typer.echo(f"  Kafka       {endpoints.kafka_bootstrap} (topic {settings.kafka_topic})")
    typer.echo(f"  Celery      {endpoints.celery_broker} ({stack.worker_count} workers)")
    typer.echo(
        f"  API         http://127.0.0.1:{settings.api_port}  "
        "(token: vad token create NAME --scope read)"
    )
    stages = stage_status(settings)
    typer.echo(f"  stage 1     {stage1_summary(stages, settings.velocity.enabled)}")
    for stage in stages:
        typer.echo(f"  {stage.stage:<11} {'on' if stage.on else 'off'}: {stage.reason}")
    typer.echo(f"  stage 2     {stack.stage2.describe()}")
    typer.echo(f"  logs        {logs}")
    typer.echo("  query       vad incidents | vad camera list   (Ctrl-C stops)")
    return stack


def stage1_summary(stages: list[StageStatus], velocity: bool = True) -> str:
    """What scores every frame, in one line: the stage lines below list the optional models one
    by one, but a new user wants to know at a glance whether the full stage 1 runs (`velocity`:
    the velocity model is learned beside the pixel model, `VAD_VELOCITY__ENABLED`)."""
    models = "pixel + velocity normality models" if velocity else "pixel normality model"
    scorers = f"{models} of each camera (motion baseline until `vad camera learn`)"
    extras = [s.stage for s in stages if s.on and s.stage in _FUSED_STAGES]
    if not extras:
        return f"{scorers} only"
    return f"{scorers} fused with {' + '.join(extras)}"


def _stop(stack: Stack) -> None:
    typer.echo("stopping: ingest, dispatcher, draining queued windows, workers, servers ...")
    stack.stop()
    typer.echo("stopped.")


def _demo_clip() -> str:
    if DEMO_CLIP.exists():
        return str(DEMO_CLIP)
    fail("no demo footage found; pass a video file or stream URL: vad run PATH_OR_URL")


def _ensure_camera(sessions, name: str, url: str, loop: bool, box: SecretBox) -> int:
    with transaction(sessions) as session:
        try:
            camera = camera_queries.get_camera(session, name)
        except camera_queries.CameraNotFound:
            return camera_queries.add_camera(
                session, name, url, None, loop, enabled=False, box=box
            ).id
        if open_url(box, camera.url, camera.url_sealed) != url:
            camera.url, camera.url_sealed = seal_url(box, url)
            camera.loop, camera.resume_index = loop, 0
        return camera.id


def _enable(sessions, camera_id: int) -> None:
    """Start ingest only once the camera is ready (its model learned), so the first minutes
    are not scored by the fallback."""
    with transaction(sessions) as session:
        session.get(Camera, camera_id).enabled = True


def _learn_if_missing(
    ctx: typer.Context, sessions, camera: str, camera_id: int, footage: Path, settings: Settings
):
    """Learn the camera's models from `footage` unless its newest model already has every part
    the installed encoders allow: a demo first run without the detector (npm unreachable) must
    not leave the demo on the pixel model once `vad models ensure` has installed it."""
    from service.commands.camera import learn_from_footage

    with sessions() as session:
        model = model_registry.latest_model(session, camera_id)
        info = dict(model.info or {}) if model is not None else None
    if info is None:
        typer.echo(f"camera {camera!r} has no normality model yet: learning from {footage} ...")
    else:
        lacking = missing_companions(info, stage_status(settings), settings)
        if not lacking:
            return
        typer.echo(
            f"camera {camera!r}'s model was learned without the {' and '.join(lacking)} "
            f"model (its encoder was installed since): learning again from {footage} ..."
        )
    learn_from_footage(get_context(ctx), camera, footage)


def missing_companions(info: dict, stages: list[StageStatus], settings: Settings) -> list[str]:
    """Companion models (object, appearance) a learn would fit now but the model lacks."""
    on = {s.stage for s in stages if s.on}
    wanted = {
        "object": "detector" in on and settings.objects.enabled,
        "appearance": "appearance" in on,
    }
    return [name for name, want in wanted.items() if want and f"{name}_model" not in info]


def _tail_incidents(sessions, stop: threading.Event) -> None:
    seen: dict[int, str] | None = None  # None until the first poll: what existed before this run
    while not stop.wait(1.0):
        try:
            with sessions() as session:
                rows = incident_queries.query_incidents(
                    session, incident_queries.IncidentFilter(limit=20)
                )
        except Exception as error:  # noqa: BLE001
            log.debug("incident poll failed: %s", error)
            continue
        known = seen or {}
        for incident, camera in reversed(rows):
            verb = incident_news(known.get(incident.id), incident.status, first_poll=seen is None)
            known[incident.id] = incident.status
            if verb:
                shown = serialize_incident(incident, camera, CLI)
                typer.echo(f"[incident {verb}] {format_incident(shown)}")
        seen = known


def incident_news(before: str | None, now: str, first_poll: bool) -> str | None:
    """What to print for an incident, or None. On the first poll the incidents are those of an
    earlier run: a closed one is old news and an open one is carried on, not newly opened (a
    restart must not announce yesterday's incidents as if they just happened)."""
    if first_poll:
        return "STILL OPEN" if now == "open" else None
    if before == now:
        return None
    return "OPENED" if now == "open" else "CLOSED"


# --- the processes `vad up` starts -----------------------------------------------------------


def dispatcher(ctx: typer.Context) -> None:
    """(internal) Cut Kafka frames into windows and enqueue one Celery task per window."""
    from frames.admin import ensure_topic
    from workers.celery_app import make_celery
    from workers.dispatcher import Dispatcher

    app_ctx = get_context(ctx)
    settings, endpoints = app_ctx.settings, app_ctx.endpoints()
    stop = stop_event_on_signals()
    topic_id = ensure_topic(
        endpoints.kafka_bootstrap, settings.kafka_topic, settings.kafka_partitions
    )
    sessions = make_sessionmaker(make_engine(endpoints.database_url))
    Dispatcher(
        settings, sessions, make_celery(settings, endpoints), endpoints.kafka_bootstrap, topic_id
    ).run(stop)


def worker(
    ctx: typer.Context,
    name: str = typer.Option("worker", "--name", help="Worker node name."),
) -> None:
    """(internal) A Celery worker process scoring windows."""
    from frames.reader import FrameReader
    from workers.celery_app import STAGE1_QUEUE, make_celery, serve_queue
    from workers.tasks import WindowScorer, register_tasks, use_opencv_threads

    app_ctx = get_context(ctx)
    settings, endpoints = app_ctx.settings, app_ctx.endpoints()
    use_opencv_threads(settings.opencv_threads)
    from webhooks.delivery import celery_sender
    from workers.stage2_gate import celery_stage2_sender

    sessions = make_sessionmaker(make_engine(endpoints.database_url))
    app = make_celery(settings, endpoints)
    scorer = WindowScorer(
        settings,
        sessions,
        FrameReader(endpoints.kafka_bootstrap),
        send_delivery=celery_sender(app),
        send_stage2=celery_stage2_sender(app),
    )
    register_tasks(app, scorer)
    serve_queue(app, STAGE1_QUEUE, name)


def api(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(None, "--port", help="Port (default VAD_API_PORT)."),
) -> None:
    """Serve the REST API (token auth; create one with `vad token create`)."""
    import uvicorn

    from api.app import create_app
    from webhooks.delivery import celery_sender
    from workers.celery_app import make_celery

    app_ctx = get_context(ctx)
    settings = app_ctx.settings
    from frames.reader import FrameReader

    endpoints = app_ctx.endpoints()
    sender = celery_sender(make_celery(settings, endpoints))
    reader = FrameReader(endpoints.kafka_bootstrap)
    uvicorn.run(
        create_app(settings, app_ctx.sessions(), send_delivery=sender, frame_reader=reader),
        host=host,
        port=port or settings.api_port,
        log_level="info",
    )


def webhook_worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Parallel deliveries."),
) -> None:
    """(internal) Deliver webhooks (queue `webhooks`) so a slow receiver never delays scoring."""
    from webhooks.delivery import Outbound, webhook_config
    from workers.webhook_worker import run_webhook_worker

    app_ctx = get_context(ctx)
    settings = app_ctx.settings
    config, outbound = webhook_config(settings), Outbound.from_settings(settings)
    run_webhook_worker(
        settings, config, outbound, app_ctx.endpoints(), app_ctx.sessions(), concurrency
    )


def ingest(ctx: typer.Context) -> None:
    """(internal) Read every enabled camera and publish kept frames to Kafka."""
    from ingest.publisher import FramePublisher
    from ingest.service import IngestService
    from service.ingest_db import enabled_cameras, status_sink
    from vad.address_policy import camera_policy

    app_ctx = get_context(ctx)
    settings, endpoints = app_ctx.settings, app_ctx.endpoints()
    stop = stop_event_on_signals()
    sessions = make_sessionmaker(make_engine(endpoints.database_url))
    publisher = FramePublisher(endpoints.kafka_bootstrap, settings.kafka_topic, settings.ingest)
    try:
        box = SecretBox.from_file(settings.key_file())
        cameras = enabled_cameras(sessions, settings.ingest, box, camera_policy(settings))
        IngestService(settings.ingest, cameras, status_sink(sessions), publisher).run(stop)
    finally:
        publisher.close()


COMMANDS = {
    "up": up,
    "run": run,
    "api": api,
    "dispatcher": dispatcher,
    "worker": worker,
    "webhook-worker": webhook_worker,
    "ingest": ingest,
}
