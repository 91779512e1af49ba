"""`vad feedback ID --false-alarm|--confirmed [--note ...]`, `vad feedback ID --undo`."""

from __future__ import annotations

import typer

from service.context import fail, get_context


def feedback(
    ctx: typer.Context,
    incident: int = typer.Argument(..., min=1, help="Incident id (vad incidents)."),
    false_alarm: bool = typer.Option(
        False,
        "--false-alarm",
        help="Nothing was wrong: the camera's model learns these frames as normal (new version).",
    ),
    confirmed: bool = typer.Option(False, "--confirmed", help="A real incident."),
    undo: bool = typer.Option(
        False, "--undo", help="Forget the verdict; a false alarm's model version is retired."
    ),
    note: str = typer.Option(None, "--note", help="Why, in your words (stored with the verdict)."),
) -> None:
    """Tell the service whether an incident was real. A false alarm is learned in seconds as a
    new model version of its camera, which running workers pick up; `--undo` restores the
    previous version."""
    from feedback import verdicts as fb
    from frames.reader import FrameReader

    if false_alarm + confirmed + undo != 1:
        fail("give exactly one of --false-alarm, --confirmed or --undo")
    app_ctx = get_context(ctx)
    sessions = app_ctx.sessions()
    try:
        if undo:
            result = fb.undo_feedback(sessions, incident)
        else:
            reader = FrameReader(app_ctx.endpoints().kafka_bootstrap) if false_alarm else None
            try:
                verdict = "false_alarm" if false_alarm else "confirmed"
                result = fb.give_feedback(
                    sessions, app_ctx.settings, reader, incident, verdict, note, "cli"
                )
            finally:
                if reader is not None:
                    reader.close()
    except fb.FeedbackError as error:
        fail(str(error))
    head = f"incident {incident}: " + (
        f"marked {result.verdict.replace('_', ' ')}" if result.verdict else "feedback undone"
    )
    typer.echo(head)
    for line in result.lines:
        typer.echo(f"  {line}")
