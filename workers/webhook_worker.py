"""The webhook worker process: Celery on the `webhooks` queue, plus the sweeper.

Threads, not processes: deliveries wait on the network, not the CPU, so many run at once and a
slow receiver occupies one thread, never the stage-1 workers (other queue, other process).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from webhooks.delivery import (
    WEBHOOK_QUEUE,
    Outbound,
    celery_sender,
    register_webhook_tasks,
    sweep,
)
from webhooks.settings import WebhookConfig
from workers.settings import CelerySettings, Endpoints

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
    settings: CelerySettings,
    config: WebhookConfig,
    outbound: Outbound,
    endpoints: Endpoints,
    sessions: sessionmaker[Session],
    concurrency: int = 8,
    name: str = "webhooks",
) -> None:
    """Deliver on the `webhooks` queue until stopped; `outbound` (address policy and secrets
    key) and `config` come from the caller's settings (webhooks.delivery)."""
    from workers.celery_app import make_celery, serve_queue

    app = make_celery(settings, endpoints)
    register_webhook_tasks(app, config, sessions, outbound)
    serve_queue(
        app,
        WEBHOOK_QUEUE,
        name,
        pool="threads",
        concurrency=concurrency,
        quiet=False,
        stop=start_sweeper(app, sessions, config.sweep_interval_seconds),
    )
