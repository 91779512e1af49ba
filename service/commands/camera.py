"""`vad camera add|list|remove|learn|rules|mask|zone`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from db import camera_queries
from db.models import Camera
from db.secrets import SecretBox, open_url
from db.session import transaction
from ingest.sources import validate_source_url
from service.commands.regions import mask, zone
from service.commands.rules import rules
from service.context import fail, get_context
from vad.address_policy import camera_policy
from vad.sampling import CameraRates, camera_rates

app = typer.Typer(help="Connect, list and remove camera streams.", no_args_is_help=True)
app.command("rules")(rules)  # watch rules for zero-shot scoring
app.command("mask")(mask)  # parts of the view stage 1 and the detector ignore
app.command("zone")(zone)  # named parts of the view incidents refer to


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique camera name."),
    url: str = typer.Argument(..., help="rtsp://..., http(s)://... (MJPEG) or a video file path."),
    fps: float = typer.Option(
        None, "--fps", help="Analysis frames per second (default from settings)."
    ),
    loop: bool = typer.Option(False, "--loop", help="Replay a file source endlessly."),
    threshold: float = typer.Option(None, "--threshold", min=0, max=1, help="Incident threshold."),
    disabled: bool = typer.Option(
        False, "--disabled", help="Register without ingesting (a camera for replays only)."
    ),
    context: str = typer.Option(
        None, "--context", help="What this place is and what is normal here (stage-2 prompts)."
    ),
    verify_tls: bool = typer.Option(
        True,
        "--verify-tls/--no-verify-tls",
        help="Check rtsps/https certificates (turn off only for a camera with a self-signed one).",
    ),
) -> None:
    """Connect a camera stream; the running service starts ingesting it within seconds. A
    password in the URL is stored encrypted and shown nowhere (`***`)."""
    app_ctx = get_context(ctx)
    settings = app_ctx.settings
    try:
        url = validate_source_url(url, policy=camera_policy(settings))
    except ValueError as error:
        fail(str(error))
    if fps is not None and not 0 < fps <= 60:
        fail("--fps must be in (0, 60]")
    box = SecretBox.from_file(settings.key_file())
    with transaction(app_ctx.sessions()) as session:
        try:
            camera = camera_queries.add_camera(
                session, name, url, fps, loop, enabled=not disabled, box=box, verify_tls=verify_tls
            )
        except camera_queries.CameraExists as error:
            fail(str(error))
        camera.threshold = threshold
        camera.context = context
        shown = camera.url
    typer.echo(f"camera {name!r} added ({shown})")


@app.command("context")
def set_context(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Camera name."),
    text: str = typer.Argument(
        None, help="E.g. 'University walkway; pedestrians only, no vehicles.' Omit to show it."
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove the camera's context."),
) -> None:
    """Show or set the camera's context prompt: what this place is and what is normal here. Stage 2
    puts it into its summary and scoring prompts."""
    with transaction(get_context(ctx).sessions()) as session:
        try:
            camera = camera_queries.get_camera(session, name)
        except camera_queries.CameraNotFound as error:
            fail(str(error))
        if clear or text is not None:
            camera.context = None if clear else text.strip() or None
        current = camera.context
    typer.echo(f"camera {name!r} context: {current or '(none)'}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Cameras with their status (online, reconnecting, offline: reason) and frame counters."""
    settings = get_context(ctx).settings
    with get_context(ctx).sessions()() as session:
        cameras = camera_queries.list_cameras(session)
    rows = [_row(c, camera_rates(settings.ingest.camera_fps(c.fps), c.source_fps)) for c in cameras]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no cameras; add one with `vad camera add NAME URL`")
        return
    typer.echo(
        f"{'NAME':<16} {'STATUS':<34} {'FPS':>5} {'SOURCE':>6} {'ANALYSED':>8} {'KEPT':>8} "
        f"{'PRUNED':>8} {'DROPPED':>8}  URL"
    )
    for r in rows:
        source = "?" if r["source_fps"] is None else f"{r['source_fps']:g}"
        typer.echo(
            f"{r['name']:<16} {r['status'][:34]:<34} {r['fps']:>5g} {source:>6} "
            f"{r['analysed_fps']:>8.3g} {r['kept']:>8} {r['pruned']:>8} {r['dropped']:>8}  "
            f"{r['url']}"
        )


def _row(camera: Camera, rates: CameraRates) -> dict:
    """One camera of `vad camera list`: FPS is the setting, SOURCE the rate its source announced
    (? = unknown), ANALYSED the rate it is analysed at (`vad.sampling.camera_rates`)."""
    status = camera.status
    return {
        "name": camera.name,
        "url": camera.url,  # credentials are stored apart, encrypted: this shows ***
        "has_credentials": camera.url_sealed is not None,
        "fps": rates.setting,
        "source_fps": rates.source,
        "analysed_fps": round(rates.analysed, 3),
        "status": status if not camera.status_reason else f"{status}: {camera.status_reason}",
        "enabled": camera.enabled,
        "kept": camera.kept_frames,
        "pruned": camera.pruned_frames,
        "dropped": camera.dropped_frames,
    }


@app.command("remove")
def remove(ctx: typer.Context, name: str = typer.Argument(..., help="Camera name.")) -> None:
    """Disconnect a camera and delete its windows, scores and incidents."""
    with transaction(get_context(ctx).sessions()) as session:
        try:
            camera_queries.remove_camera(session, name)
        except camera_queries.CameraNotFound as error:
            fail(str(error))
    typer.echo(f"camera {name!r} removed")


@app.command("relearn")
def relearn(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Camera name."),
    every: str = typer.Option(
        None, "--every", help="Refit from the last e.g. 24h of stored frames every 24h."
    ),
    off: bool = typer.Option(False, "--off", help="No scheduled relearning."),
) -> None:
    """Show or set the camera's relearning schedule: `vad up` runs `vad camera learn NAME
    --recent <every>` whenever the camera's newest model is that old."""
    from service.commands.incidents import parse_duration

    if every is not None and off:
        fail("give --every or --off, not both")
    hours = None
    if every is not None:
        try:
            span = parse_duration(every)
        except OverflowError:
            span = None
        if span is None or span.total_seconds() < 600:
            fail(f"--every {every!r}: use a duration of at least 10m, e.g. 12h or 7d")
        hours = span.total_seconds() / 3600
    with transaction(get_context(ctx).sessions()) as session:
        try:
            camera = camera_queries.get_camera(session, name)
        except camera_queries.CameraNotFound as error:
            fail(str(error))
        if every is not None or off:
            camera.relearn_every_hours = hours
        current = camera.relearn_every_hours
    shown = f"every {current:g} h from the last {current:g} h" if current else "off"
    typer.echo(f"camera {name!r} scheduled relearn: {shown}")


@app.command("learn")
def learn(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Camera name."),
    source: Path = typer.Option(None, "--from", help="Normal footage: a video file or a folder."),
    minutes: float = typer.Option(None, "--minutes", min=0.1, help="Learn from the live stream."),
    recent: str = typer.Option(
        None,
        "--recent",
        help=(
            "Refit from the stored frames (Kafka log) of the last e.g. 24h, 90m that no open or "
            "confirmed incident covers (drift: seasons, lighting, new furniture)."
        ),
    ),
) -> None:
    """Fit the camera's normality model on normal footage (and its object and appearance models,
    when the detector / the appearance encoder is installed); the pipeline uses the newest
    models."""
    from service.learning import live_clips

    app_ctx = get_context(ctx)
    settings = app_ctx.settings
    if sum(x is not None for x in (source, minutes, recent)) != 1:
        fail("give exactly one of --from FILE_OR_DIR, --minutes N or --recent 24h")
    sessions = app_ctx.sessions()
    with sessions() as session:
        try:
            camera = camera_queries.get_camera(session, name)
        except camera_queries.CameraNotFound as error:
            fail(f"{error}; add it first with `vad camera add`")
        fps = settings.ingest.camera_fps(camera.fps)
        camera_id, shown_url, verify_tls = camera.id, camera.url, camera.verify_tls
        url = open_url(SecretBox.from_file(settings.key_file()), camera.url, camera.url_sealed)
    if recent is not None:
        _learn_recent(app_ctx, name, camera_id, recent)
        return
    if source is not None:
        _learn_from_files(app_ctx, name, camera_id, fps, source)
        return
    origin = f"{shown_url} live, {minutes:g} min"  # stored: never the credentials
    typer.echo(f"learning from the live stream for {minutes:g} minute(s) ...")
    policy = camera_policy(settings)
    clips = live_clips(url, minutes, fps, settings.ingest, policy, verify_tls)
    _fit_and_register(app_ctx, name, camera_id, clips, origin, {"kind": "refit", "from": origin})


def learn_from_footage(app_ctx, name: str, source: Path) -> None:
    """`vad camera learn NAME --from SOURCE` for callers in code (`vad run`'s demo): a typer
    command called as a function gets its options' defaults as `OptionInfo` objects, not None."""
    with app_ctx.sessions()() as session:
        try:
            camera = camera_queries.get_camera(session, name)
        except camera_queries.CameraNotFound as error:
            fail(f"{error}; add it first with `vad camera add`")
        camera_id, fps = camera.id, app_ctx.settings.ingest.camera_fps(camera.fps)
    _learn_from_files(app_ctx, name, camera_id, fps, source)


def _learn_from_files(app_ctx, name: str, camera_id: int, fps: float, source: Path) -> None:
    from service.learning import file_clips, footage_files

    try:
        files = footage_files(source)
    except ValueError as error:
        fail(str(error))
    origin = f"{source} ({len(files)} file{'s' if len(files) > 1 else ''})"
    clips = file_clips(files, fps, app_ctx.settings.ingest)
    _fit_and_register(app_ctx, name, camera_id, clips, origin, {"kind": "refit", "from": origin})


def _learn_recent(app_ctx, name: str, camera_id: int, recent: str) -> None:
    """`learn --recent`: the stored frames of the period, minus open and confirmed incidents."""
    from service.commands.incidents import parse_since
    from service.learn import LearnError, learn_recent

    try:
        since = parse_since(recent)
    except ValueError as error:
        fail(str(error).replace("--since", "--recent"))
    try:
        outcome = learn_recent(
            app_ctx.settings,
            app_ctx.sessions(),
            app_ctx.endpoints().kafka_bootstrap,
            name,
            camera_id,
            since,
        )
    except LearnError as error:
        fail(str(error))
    _echo_learned(name, outcome.model)
    excluded, skipped = outcome.left_out_incidents, outcome.skipped_windows
    if excluded:
        typer.echo(f"left out the frames of open or confirmed incidents {excluded}")
    if skipped:
        typer.echo(f"skipped {len(skipped)} window(s) no longer in the log: {skipped[0]} ...")


def _fit_and_register(app_ctx, name: str, camera_id: int, clips, origin: str, learned_from):
    from service.learn import LearnError, fit_and_register

    try:
        learned = fit_and_register(
            app_ctx.settings, app_ctx.sessions(), name, camera_id, clips, origin, learned_from
        )
    except LearnError as error:
        fail(str(error))
    _echo_learned(name, learned)


def _echo_learned(name: str, learned) -> None:
    typer.echo(
        f"camera {name!r}: normality model v{learned.version} fitted on {learned.frames} frames "
        f"from {learned.origin} in {learned.seconds:.1f} s -> {learned.directory}"
    )
    for note in learned.notes:
        typer.echo(note)
