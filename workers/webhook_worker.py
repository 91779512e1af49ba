"""The webhook worker process: Celery on the `webhooks` queue, plus the sweeper.

Threads, not processes: deliveries wait on the network, not the CPU, so many run at once and a
slow receiver occupies one thread, never the stage-1 workers (other queue, other process).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from webhooks.delivery import (
    WEBHOOK_QUEUE,
    Outbound,
    celery_sender,
    register_webhook_tasks,
    sweep,
    webhook_config,
)
from workers.settings import Endpoints

if TYPE_CHECKING:  # composed in service/, passed down; no import at run time
    from service.settings import Settings

log = logging.getLogger(__name__)


def start_sweeper(app, sessions: sessionmaker[Session], interval: float) -> threading.Event:
    """Re-nudge due deliveries every `interval` s (lost messages, dead workers); set to stop."""
    stop = threading.Event()
    send = celery_sender(app)

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sweep(sessions, send)
            except Exception as error:  # noqa: BLE001 - database or broker restarting
                log.warning("webhook sweep failed: %s", error)

    threading.Thread(target=loop, name="webhook-sweeper", daemon=True).start()
    return stop


def run_webhook_worker(
    settings: Settings,
    endpoints: Endpoints,
    sessions: sessionmaker[Session],
    concurrency: int = 8,
    name: str = "webhooks",
) -> None:
    from workers.celery_app import make_celery, serve_queue

    config = webhook_config(settings)
    app = make_celery(settings, endpoints)
    register_webhook_tasks(app, config, sessions, Outbound.from_settings(settings))
    serve_queue(
        app,
        WEBHOOK_QUEUE,
        name,
        pool="threads",
        concurrency=concurrency,
        quiet=False,
        stop=start_sweeper(app, sessions, config.sweep_interval_seconds),
    )
