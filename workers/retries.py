"""How the Celery tasks (window scoring, stage-2 analysis) retry a failed attempt and when they
give up: one owner for both queues.

The attempts are for outages: the log or the database not answering, or records a restarted
in-memory broker or a recreated topic no longer has (windows a restarted worker finds left from
before). Those are expected, so every step of them is one log line; a traceback is logged only
for anything else, which is a bug to look at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Task
from sqlalchemy.exc import OperationalError

from frames.reader import LOG_UNAVAILABLE

log = logging.getLogger(__name__)

EXPECTED_FAILURES: tuple[type[Exception], ...] = (*LOG_UNAVAILABLE, OperationalError)


def retry_or_give_up(
    task: Task,
    error: Exception,
    what: str,
    give_up: Callable[[str], None],
    note: Callable[[str], None] | None = None,
) -> str:
    """Retry `task` after a backoff of 1, 2, 4 ... 30 s (`note` records the reason first), or
    after its last attempt `give_up` with the reason and return "failed"."""
    message = f"{type(error).__name__}: {error}"
    attempt = task.request.retries + 1
    if attempt > task.max_retries:
        if isinstance(error, EXPECTED_FAILURES):
            log.error("%s failed after %s attempts: %s", what, attempt, message)
        else:
            log.exception("%s failed after %s attempts", what, attempt)
        give_up(message)
        return "failed"
    log.warning("%s attempt %s failed: %s", what, attempt, message)
    if note is not None:
        note(message)
    raise task.retry(exc=error, countdown=min(2**task.request.retries, 30)) from error
