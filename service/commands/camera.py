"""`vad camera add|list|remove|learn|rules|mask|zone`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from db import queries, regions
from db.models import Camera
from db.secrets import SecretBox, open_url
from db.session import transaction
from ingest.sources import SourceError, validate_source_url
from service.commands.regions import mask, zone
from service.commands.rules import rules
from service.context import fail, get_context
from vad.address_policy import camera_policy

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
            camera = queries.add_camera(
                session, name, url, fps, loop, enabled=not disabled, box=box, verify_tls=verify_tls
            )
        except queries.CameraExists as error:
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
            camera = queries.get_camera(session, name)
        except queries.CameraNotFound as error:
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
        cameras = queries.list_cameras(session)
    rows = [
        {
            "name": c.name,
            "url": c.url,  # credentials are stored apart, encrypted: this shows ***
            "has_credentials": c.url_sealed is not None,
            "fps": c.fps or settings.ingest.default_fps,
            "status": c.status if not c.status_reason else f"{c.status}: {c.status_reason}",
            "enabled": c.enabled,
            "kept": c.kept_frames,
            "pruned": c.pruned_frames,
            "dropped": c.dropped_frames,
        }
        for c in cameras
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no cameras; add one with `vad camera add NAME URL`")
        return
    typer.echo(
        f"{'NAME':<16} {'STATUS':<34} {'FPS':>5} {'KEPT':>8} {'PRUNED':>8} {'DROPPED':>8}  URL"
    )
    for r in rows:
        typer.echo(
            f"{r['name']:<16} {r['status'][:34]:<34} {r['fps']:>5g} {r['kept']:>8} "
            f"{r['pruned']:>8} {r['dropped']:>8}  {r['url']}"
        )


@app.command("remove")
def remove(ctx: typer.Context, name: str = typer.Argument(..., help="Camera name.")) -> None:
    """Disconnect a camera and delete its windows, scores and incidents."""
    with transaction(get_context(ctx).sessions()) as session:
        try:
            queries.remove_camera(session, name)
        except queries.CameraNotFound as error:
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
            camera = queries.get_camera(session, name)
        except queries.CameraNotFound as error:
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
    from service.learning import file_clips, footage_files, live_clips

    app_ctx = get_context(ctx)
    settings = app_ctx.settings
    if sum(x is not None for x in (source, minutes, recent)) != 1:
        fail("give exactly one of --from FILE_OR_DIR, --minutes N or --recent 24h")
    sessions = app_ctx.sessions()
    with sessions() as session:
        try:
            camera = queries.get_camera(session, name)
        except queries.CameraNotFound as error:
            fail(f"{error}; add it first with `vad camera add`")
        fps = camera.fps or settings.ingest.default_fps
        camera_id, shown_url, verify_tls = camera.id, camera.url, camera.verify_tls
        url = open_url(SecretBox.from_file(settings.key_file()), camera.url, camera.url_sealed)
    if recent is not None:
        _learn_recent(app_ctx, name, camera_id, recent)
        return
    if source is not None:
        try:
            files = footage_files(source)
        except ValueError as error:
            fail(str(error))
        origin = f"{source} ({len(files)} file{'s' if len(files) > 1 else ''})"
        clips = file_clips(files, fps, settings.ingest)
    else:
        origin = f"{shown_url} live, {minutes:g} min"  # stored: never the credentials
        typer.echo(f"learning from the live stream for {minutes:g} minute(s) ...")
        policy = camera_policy(settings)
        clips = live_clips(url, minutes, fps, settings.ingest, policy, verify_tls)
    fit_and_register(app_ctx, name, camera_id, clips, origin, {"kind": "refit", "from": origin})


def _learn_recent(app_ctx, name: str, camera_id: int, recent: str) -> None:
    """`learn --recent`: the stored frames of the period, minus open and confirmed incidents."""
    from frames.reader import FrameReader
    from service.commands.incidents import parse_since
    from service.stored_footage import recent_windows, spread, stream_clips

    settings = app_ctx.settings
    try:
        since = parse_since(recent)
    except ValueError as error:
        fail(str(error).replace("--since", "--recent"))
    with app_ctx.sessions()() as session:
        windows, excluded = recent_windows(session, camera_id, since)
        session.expunge_all()
    if not windows:
        fail(
            f"camera {name!r} has no scored frames since {since:%Y-%m-%d %H:%M} UTC outside open "
            "or confirmed incidents; learn from footage with --from instead"
        )
    chosen, joined = spread(windows, settings.feedback.relearn_max_frames)
    frames = sum(w.n_frames for w in chosen)
    origin = f"stored frames since {since.isoformat(timespec='seconds')} ({frames} frames)"
    learned_from = {
        "kind": "recent",
        "since": since.isoformat(timespec="seconds"),
        "windows": [chosen[0].seq, chosen[-1].seq],
        "window_count": len(chosen),
        "frames": frames,
        "left_out_incidents": excluded,
    }
    reader = FrameReader(app_ctx.endpoints().kafka_bootstrap)
    try:
        clips, skipped = stream_clips(reader, chosen, settings.windows.context_frames, joined)
        fit_and_register(app_ctx, name, camera_id, clips, origin, learned_from)
    finally:
        reader.close()
    if excluded:
        typer.echo(f"left out the frames of open or confirmed incidents {excluded}")
    if skipped:
        typer.echo(f"skipped {len(skipped)} window(s) no longer in the log: {skipped[0]} ...")


def _camera_view(app_ctx, camera_id: int):
    """(masks, fps): the camera's masks now (`vad/masks.py`), applied to every footage `learn`
    fits on, and the frame rate its footage is sampled at (the scene norms' clock)."""
    with app_ctx.sessions()() as session:
        camera = session.get(Camera, camera_id)
        fps = camera.fps or app_ctx.settings.ingest.default_fps
        return regions.camera_regions(session, camera_id).mask, fps


def fit_and_register(app_ctx, name: str, camera_id: int, clips, origin: str, learned_from: dict):
    """Fit every stage-1 model on the clips (one decode) and register them as a new version."""
    import numpy as np

    from frames.reader import WindowUnavailable
    from service.progress import progress_bar, track_clips
    from vad.scoring.appearance_normality import fit_appearance_model
    from vad.scoring.normality import fit_normality_model
    from vad.scoring.object_normality import fit_object_model
    from vad.scoring.velocity import fit_velocity_from_greys
    from vad.stage2.scene import fit_scene_norms

    settings = app_ctx.settings
    view_mask, fps = _camera_view(app_ctx, camera_id)
    recorder, objects_note = _object_recorder(settings)
    looks_recorder, looks_note = _appearance_recorder(settings)
    motion_recorder = _velocity_recorder(settings)
    velocity_note = "velocity model: off (VAD_VELOCITY__ENABLED=false)"
    objects = looks = velocity = scene = None
    bar = progress_bar()
    try:
        started = time.perf_counter()
        bar.start()
        frames_read = bar.add_task("learning", total=None)
        clips = track_clips(clips, bar, frames_read, "learning: frames of clip", "fitting models")
        if view_mask:  # the models learn nothing from the masked part of the view
            clips = (view_mask.freeze_clip(clip) for clip in clips)
        for wrapper in (recorder, looks_recorder, motion_recorder):
            clips = wrapper.wrap(clips) if wrapper is not None else clips
        model = fit_normality_model(clips, settings.normality)
        if motion_recorder is not None:
            velocity = fit_velocity_from_greys(
                motion_recorder.clips, model.frame_size, settings.velocity
            )
            velocity_note = f"velocity model: {velocity.summary()}"
            model.metadata["velocity_model"] = velocity.metadata
        if recorder is not None:
            scene = fit_scene_norms((c, [i / fps for i in range(len(c))]) for c in recorder.clips)
            objects = fit_object_model(recorder.clips, recorder.name, settings.objects)
            objects_note = f"object model ({recorder.name}): {objects.summary()}"
            model.metadata["object_model"] = {
                "detector": recorder.name,
                **objects.metadata,
            }
        if looks_recorder is not None:
            looks = fit_appearance_model(
                [np.asarray(c) for c in looks_recorder.clips],
                looks_recorder.name,
                model.frame_size,
                settings.appearance,
            )
            looks_note = f"appearance model ({looks.encoder}): {looks.summary()}"
            model.metadata["appearance_model"] = {"encoder": looks.encoder, **looks.metadata}
    except (ValueError, SourceError, WindowUnavailable, TimeoutError) as error:
        bar.stop()
        fail(str(error))
    finally:
        bar.stop()
    frames = int(model.metadata.get("frames_seen", 0))
    with transaction(app_ctx.sessions()) as session:
        version = queries.next_model_version(session, camera_id)
        directory = settings.model_dir.resolve() / "normality" / name / f"v{version}"
        model.save(directory)
        for companion in (objects, looks, velocity, scene):
            if companion is not None:
                companion.save(directory)
        queries.register_model(
            session,
            camera_id,
            version,
            str(directory),
            frames,
            origin,
            dict(model.metadata),
            learned_from=learned_from,
        )
    typer.echo(
        f"camera {name!r}: normality model v{version} fitted on {frames} frames from {origin} "
        f"in {time.perf_counter() - started:.1f} s -> {directory}"
    )
    typer.echo(velocity_note)
    typer.echo(objects_note)
    typer.echo(looks_note)


def _velocity_recorder(settings):
    """Records the small grey frames the velocity model learns from (same decode as the rest)."""
    from service.learning import EncoderRecorder
    from vad.scoring.velocity import to_grey

    config = settings.velocity
    if not config.enabled:
        return None
    return EncoderRecorder("velocity", lambda batch: [to_grey(f, config.width) for f in batch], 64)


def _object_recorder(settings):
    """(recorder, note): the detector that records objects while learning, or None and why not."""
    from service.learning import EncoderRecorder
    from vad.encoders.detectors import Detector
    from vad.encoders.detectors.keyframes import detect_key_frames
    from vad.encoders.registry import stage_status
    from vad.encoders.runtime import ModelError

    if not settings.objects.enabled:
        return None, "object model: off (disabled: VAD_OBJECTS__ENABLED=false)"
    detector_stage = next(s for s in stage_status(settings) if s.stage == "detector")
    if not detector_stage.on:
        return None, f"object model: off (detector {detector_stage.reason})"
    try:
        detector = Detector.installed(settings.model_dir, settings.encoders)
    except ModelError as error:
        fail(
            f"the detector cannot be loaded ({error}); reinstall it or learn without the object "
            "model: VAD_OBJECTS__ENABLED=false"
        )
    if detector is None:
        return None, f"object model: off (detector {settings.encoders.detector} not installed)"
    o = settings.objects

    def detect(frames):  # key frames only, as the worker scores (keyframes.py)
        return detect_key_frames(detector, frames, o.detect_every, o.redetect_change)

    return EncoderRecorder(detector.name, detect, detector.batch_size * o.detect_every), ""


def _appearance_recorder(settings):
    """(recorder, note): the encoder that embeds view tiles while learning (`appearance.encoder`),
    or None and why not."""
    from service.learning import EncoderRecorder
    from vad.encoders.image import tile_encoder
    from vad.encoders.registry import stage_status
    from vad.encoders.runtime import ModelError
    from vad.scoring.appearance_normality import embed_tiles

    looks = settings.appearance
    stage = next(s for s in stage_status(settings) if s.stage == "appearance")
    if not stage.on:
        return None, f"appearance model: off ({stage.reason})"
    try:
        encoder = tile_encoder(settings.model_dir, looks.encoder, settings.encoders)
    except ModelError as error:
        fail(
            f"the appearance encoder cannot be loaded ({error}); reinstall it or learn without "
            "the appearance model: VAD_APPEARANCE__ENABLED=false"
        )
    if encoder is None:
        return None, f"appearance model: off ({looks.encoder} not installed)"
    recorder = EncoderRecorder(
        encoder.name,
        lambda frames: list(embed_tiles(encoder, frames, looks.tile_rows)),
        max(1, settings.encoders.batch_size // 4),  # each frame is several tiles
        every=looks.learn_every,
    )
    return recorder, ""
