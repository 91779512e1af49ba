"""`vad replay`: push a recorded video through the same ingest path as a live camera."""

from __future__ import annotations

import time
from collections.abc import Callable

import typer
from sqlalchemy import func, select

from db import camera_queries, clock, incident_queries
from db.incident_serializer import CLI, serialize_incident
from db.models import Camera, CameraTracker, FrameScore, Window
from db.session import make_engine, make_sessionmaker, transaction
from ingest.camera import CameraIngestor, CameraSpec
from ingest.publisher import FramePublisher
from ingest.service import report
from ingest.sources import validate_source_url
from service.commands.incidents import format_incident
from service.context import fail, get_context, stop_event_on_signals
from service.ingest_db import status_sink
from service.progress import progress_bar
from vad.video import video_info


def replay(
    ctx: typer.Context,
    file: str = typer.Argument(..., help="Recorded video file."),
    camera: str = typer.Option(..., "--camera", help="Camera the footage is attributed to."),
    realtime: bool = typer.Option(
        False, "--realtime/--fast", help="Play at the video's own speed, or as fast as possible."
    ),
    fps: float = typer.Option(None, "--fps", help="Analysis fps (default: the camera's)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until every frame is scored."),
    timeout: float = typer.Option(600, "--timeout", help="Longest wait for scoring, seconds."),
) -> None:
    """Replay FILE as camera NAME (created if missing, with the camera's model if it has one)."""
    app_ctx = get_context(ctx)
    settings, endpoints = app_ctx.settings, app_ctx.endpoints()
    try:
        url = validate_source_url(file)
    except ValueError as error:
        fail(str(error))
    sessions = make_sessionmaker(make_engine(endpoints.database_url))
    with transaction(sessions) as session:
        try:
            row = camera_queries.get_camera(session, camera)
        except camera_queries.CameraNotFound:
            row = camera_queries.add_camera(session, camera, url, fps, loop=False, enabled=False)
        last_end = session.scalar(select(func.max(Window.end_at)).where(Window.camera_id == row.id))
        spec = CameraSpec(
            row.id,
            row.name,
            url,
            fps or settings.ingest.camera_fps(row.fps),
            loop=False,
            # media time must keep increasing per camera, even when replays overlap in wall time
            not_before=last_end.timestamp() + 1.0 if last_end else 0.0,
        )
        if row.enabled and row.status == "online":
            typer.secho(
                f"warning: camera {camera!r} is also live; replayed frames interleave "
                "with its stream",
                fg=typer.colors.YELLOW,
                err=True,
            )
    publisher = FramePublisher(endpoints.kafka_bootstrap, settings.kafka_topic, settings.ingest)
    ingestor = CameraIngestor(spec, settings.ingest, publisher, pace=realtime)
    stop = stop_event_on_signals()
    t0 = time.monotonic()
    wall_started = clock.now_utc()
    ingestor.start()
    kept = 0
    bar = progress_bar(enabled=not realtime)  # a real-time replay takes the video's own time
    bar.start()
    reading = bar.add_task("replaying: frames read", total=None if realtime else _frame_count(url))
    while not ingestor.finished.wait(1.0) and not stop.is_set():
        kept += _report(sessions, ingestor)
        bar.update(reading, completed=ingestor.resume_index or 0)
    bar.stop()
    if stop.is_set():
        ingestor.stop()
    publisher.flush()
    time.sleep(0.2)
    kept += _report(sessions, ingestor)
    publisher.close()
    elapsed = time.monotonic() - t0
    media_start = ingestor.started_at or time.time()
    started = clock.utc(media_start)
    typer.echo(
        f"replayed {kept} kept frames ({ingestor.pruner.pruned} pruned, status "
        f"{ingestor.status}{': ' + ingestor.reason if ingestor.reason else ''}) "
        f"in {elapsed:.1f} s"
    )
    if wait and not stop.is_set():
        ended = ingestor.reason == "end of file"
        with progress_bar(enabled=not realtime) as bar:
            scoring = bar.add_task("scoring", total=kept)
            scored = _wait_scored(
                sessions,
                spec.id,
                wall_started,
                started,
                kept,
                timeout,
                stop,
                ended,
                lambda done: bar.update(scoring, completed=done),
            )
        typer.echo(f"{scored}/{kept} frames scored after {time.monotonic() - t0:.1f} s")
        _print_incidents(sessions, camera, started, media_start)


def _frame_count(url: str) -> int | None:
    """The file's frame count as its container reports it (the bar's total), if it has one."""
    try:
        return video_info(url).frame_count or None
    except OSError:
        return None


def _report(sessions, ingestor: CameraIngestor) -> int:
    return report(status_sink(sessions), [ingestor]) or 0


def _wait_scored(
    sessions,
    camera_id: int,
    ingested_since,
    media_since,
    expected: int,
    timeout: float,
    stop,
    ended: bool,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Wait until every replayed frame is scored or its window has given up, and the incident
    tracker has consumed every window (up to the end-of-stream one when the file ended), so the
    incidents printed next are final. `on_progress` gets the frames settled so far."""
    deadline = time.monotonic() + timeout
    scored = 0
    while time.monotonic() < deadline and not stop.is_set():
        with sessions() as session:
            scored = session.scalar(
                select(func.count()).where(
                    FrameScore.camera_id == camera_id, FrameScore.ingested_at >= ingested_since
                )
            )
            failed = session.execute(
                select(func.coalesce(func.sum(Window.n_frames), 0), func.max(Window.error)).where(
                    Window.camera_id == camera_id,
                    Window.status == "failed",
                    Window.end_at >= media_since,
                )
            ).one()
            settled = _tracker_settled(session, camera_id, media_since, ended)
        if on_progress is not None:
            on_progress(scored + failed[0])
        if scored + failed[0] >= expected and settled:
            if failed[0]:
                typer.secho(
                    f"{failed[0]} frame(s) could not be scored: {failed[1]}",
                    fg=typer.colors.RED,
                    err=True,
                )
            break
        time.sleep(0.5)
    return scored


def _tracker_settled(session, camera_id: int, media_since, ended: bool) -> bool:
    windows = session.scalar(select(Camera.next_window_seq).where(Camera.id == camera_id))
    consumed = session.scalar(
        select(CameraTracker.next_seq).where(CameraTracker.camera_id == camera_id)
    )
    if (consumed or 0) < (windows or 0):
        return False
    if not ended:
        return True
    return bool(
        session.scalar(
            select(func.count()).where(
                Window.camera_id == camera_id,
                Window.end_of_stream.is_(True),
                Window.end_at >= media_since,
            )
        )
    )


def _print_incidents(sessions, camera: str, since, media_start: float) -> None:
    """Incidents of this replay, with times as positions in the file."""
    with sessions() as session:
        rows = [
            (incident, name)
            for incident, name in incident_queries.query_incidents(
                session, incident_queries.IncidentFilter(camera=camera, since=since)
            )
            if incident.started_at >= since
        ]
    if not rows:
        typer.echo("no incidents")
    for incident, name in reversed(rows):
        start = incident.started_at.timestamp() - media_start
        end = (incident.ended_at.timestamp() - media_start) if incident.ended_at else None
        span = f"{start:6.1f} s -> " + (f"{end:6.1f} s" if end is not None else "  open")
        typer.echo(f"{format_incident(serialize_incident(incident, name, CLI))}   [file {span}]")
