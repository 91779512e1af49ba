"""The stage-1 side of stage 2: which windows go to stage 2, requested inside the tracker's
transaction and sent after it commits (outbox; a sweeper in the stage-2 worker re-sends lost
messages).

A window goes to stage 2 when an incident opens in it or its peak rises there (the tracker's
`opened`/`updated` events), at most `max_per_incident` windows per incident. Nothing is requested
when stage 2 is off (no captioner or LLM installed), so stage 1 behaves exactly as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Celery
from sqlalchemy.orm import Session

from db import stage2 as s2
from db.models import Incident
from vad.settings import CoreSettings
from vad.stage2.loading import stage2_status
from workers.celery_app import ANALYZE_WINDOW, STAGE2_QUEUE

log = logging.getLogger(__name__)

TRIGGERS = ("incident.opened", "incident.updated")
Stage2Sender = Callable[[list[int]], None]


class Stage2Gate:
    def __init__(self, max_per_incident: int) -> None:
        self.max_per_incident = max_per_incident

    def request(self, session: Session, kind: str, incident: Incident) -> list[int]:
        """Analysis ids to send once the transaction commits."""
        if kind not in TRIGGERS:
            return []
        row_id = s2.request_analysis(session, incident, kind, self.max_per_incident)
        return [row_id] if row_id is not None else []


def stage2_gate(settings: CoreSettings) -> Stage2Gate | None:
    """The gate when stage 2 is on, else None (and one log line saying how to turn it on)."""
    status = stage2_status(settings)
    if not status.enabled:
        log.info("stage 2 is %s", status.describe())
        return None
    return Stage2Gate(settings.stage2.max_per_incident)


def celery_stage2_sender(app: Celery) -> Stage2Sender:
    def send(analysis_ids: list[int]) -> None:
        for analysis_id in analysis_ids:
            try:
                app.send_task(ANALYZE_WINDOW, args=[analysis_id], queue=STAGE2_QUEUE)
            except Exception as error:  # noqa: BLE001 - the sweeper re-sends it
                log.warning(
                    "stage-2 request %s not sent (%s); the sweeper will", analysis_id, error
                )

    return send
