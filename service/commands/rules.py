"""`vad camera rules NAME`: a camera's watch rules, plain sentences scored zero-shot by CLIP."""

from __future__ import annotations

import typer

from db import camera_queries
from db import embedding_queries as eq
from db.session import transaction
from service.context import fail, get_context


def rules(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Camera name."),
    add: list[str] = typer.Option(
        None, "--add", help="Something to watch for, e.g. 'someone climbs the fence' (repeatable)."
    ),
    normal: list[str] = typer.Option(
        None, "--normal", help="A sentence describing this camera's normal scene (repeatable)."
    ),
    remove: list[str] = typer.Option(None, "--remove", help="Remove this sentence (repeatable)."),
    clear: bool = typer.Option(False, "--clear", help="Remove all of the camera's own rules."),
) -> None:
    """Show or edit the camera's watch rules (used with the defaults of settings.zero_shot)."""
    app_ctx = get_context(ctx)
    with transaction(app_ctx.sessions()) as session:
        try:
            camera = camera_queries.get_camera(session, name)
        except camera_queries.CameraNotFound as error:
            fail(str(error))
        if clear:
            eq.remove_rule(session, camera.id)
        for sentence in remove or []:
            if not eq.remove_rule(session, camera.id, sentence):
                fail(f"camera {name!r} has no rule {sentence!r}")
        try:
            for kind, sentences in (("anomaly", add or []), ("normal", normal or [])):
                for sentence in sentences:
                    eq.add_rule(session, camera.id, kind, sentence)
        except ValueError as error:
            fail(str(error))
        current = eq.camera_rules(session, camera.id)
    zs = app_ctx.settings.zero_shot
    typer.echo(f"camera {name!r} watch rules:")
    for sentence in current["anomaly"]:
        typer.echo(f"  watch:  {sentence}")
    for sentence in current["normal"]:
        typer.echo(f"  normal: {sentence}")
    if zs.use_defaults:
        typer.echo(
            f"  + {len(zs.anomaly_prompts)} default watch and {len(zs.normal_prompts)} default "
            "normal sentences (VAD_ZERO_SHOT__USE_DEFAULTS=false to use only the camera's own)"
        )
