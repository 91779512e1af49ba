"""`vad`: the one command line of the service."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from service.commands import camera, db, detect, incidents, models, pipeline, replay, stage2, token
from service.commands import feedback as feedback_commands
from service.commands import grounding as grounding_commands
from service.commands import search as search_commands
from service.context import AppContext, setup_logging
from service.settings import Settings

app = typer.Typer(
    help="Surveillance video anomaly detection: cameras -> Kafka -> Celery -> PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(camera.app, name="camera")
app.add_typer(db.app, name="db")
app.add_typer(token.app, name="token")
app.add_typer(models.app, name="models")
app.add_typer(stage2.app, name="stage2")
app.command("stage2-worker")(stage2.stage2_worker)
app.command("incidents")(incidents.incidents)
app.command("feedback")(feedback_commands.feedback)
app.command("detect")(detect.detect)
app.command("search")(search_commands.search)
app.command("search-index")(search_commands.search_index)
app.add_typer(grounding_commands.train_app, name="train")
app.command("replay")(replay.replay)
for name, command in pipeline.COMMANDS.items():
    app.command(name)(command)


def _mount_optional() -> None:
    try:
        from service.commands import eval as eval_commands
    except ImportError:
        return
    eval_commands.app.command("grounding")(grounding_commands.eval_grounding)
    app.add_typer(eval_commands.app, name="eval")


_mount_optional()


@app.callback()
def main_callback(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    setup_logging(verbose)
    try:
        settings = Settings()
    except ValidationError as error:
        typer.secho(f"error: invalid VAD_* settings:\n{error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    ctx.obj = AppContext(settings)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
