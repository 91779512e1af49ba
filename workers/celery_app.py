"""The Celery application, built from settings (no module-level app).

Reliability settings that matter: tasks are acknowledged only after they finish (`acks_late`), a
task whose worker process dies is handed back (`task_reject_on_worker_lost`), and each worker
prefetches one task so a killed worker takes at most one window down with it. Stage 2 has a
queue of its own (`stage2`, served by `vad stage2-worker`) so stage 1 never waits behind it.
"""

from __future__ import annotations

import threading

from celery import Celery

from workers.settings import CelerySettings, Endpoints

STAGE1_QUEUE = "stage1"
SCORE_WINDOW = "vad.score_window"
STAGE2_QUEUE = "stage2"
ANALYZE_WINDOW = "vad.stage2_analyze"


def make_celery(settings: CelerySettings, endpoints: Endpoints) -> Celery:
    app = Celery("vad", broker=endpoints.celery_broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=STAGE1_QUEUE,
        task_routes={
            SCORE_WINDOW: {"queue": STAGE1_QUEUE},
            "vad.deliver_webhook": {"queue": "webhooks"},
            ANALYZE_WINDOW: {"queue": STAGE2_QUEUE},
        },
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


def queue_length(app: Celery, queue: str = STAGE1_QUEUE) -> int:
    """Messages waiting in a queue (not counting ones a worker holds)."""
    from kombu.exceptions import ChannelError

    with app.connection_for_write() as conn:
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError as error:
            if "NOT_FOUND" in str(error):
                return 0  # Redis drops an empty list: no queue means nothing waiting
            raise


# Cluster chatter (gossip, mingle, heartbeats) a one-task-at-a-time process has no use for: the
# reaper and the sweepers, not Celery's worker events, notice a dead worker.
QUIET_WORKER = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def serve_queue(
    app: Celery,
    queue: str,
    name: str,
    *,
    pool: str = "solo",
    concurrency: int | None = None,
    quiet: bool = True,
    stop: threading.Event | None = None,
) -> None:
    """Run a Celery worker on one queue until it exits: the one start-up of the stage-1,
    stage-2 and webhook worker processes. `stop` (a background sweeper's) is set when it does."""
    argv = ["worker", f"--pool={pool}"]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    argv += ["-Q", queue, "-n", f"{name}@%h", "--loglevel=INFO"]
    if quiet:
        argv += QUIET_WORKER
    try:
        app.worker_main(argv)
    finally:
        if stop is not None:
            stop.set()
