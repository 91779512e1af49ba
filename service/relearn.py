"""Scheduled relearning (issue 20): a camera with `relearn_every_hours` set (`vad camera relearn
NAME --every 24h`) is refitted from its own recent stored frames (`vad camera learn NAME --recent
Nh`) whenever its newest model is older than that. `vad up` checks every
`feedback.relearn_check_seconds` and runs each due camera's learn as a child process, one at a
time per camera, so a slow fit never stalls supervision.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import model_registry
from db.models import Camera
from service.infra import open_log

log = logging.getLogger(__name__)


def relearn_due(every_hours: float, newest_model_at: datetime | None, now: datetime) -> bool:
    """Due when the camera has no model yet, or its newest one is `every_hours` old."""
    return newest_model_at is None or now - newest_model_at >= timedelta(hours=every_hours)


def due_cameras(session: Session, now: datetime) -> list[tuple[str, float]]:
    """(name, hours) of every enabled camera with a schedule whose relearn is due."""
    scheduled = session.scalars(
        select(Camera).where(Camera.relearn_every_hours.is_not(None), Camera.enabled.is_(True))
    ).all()
    out = []
    for camera in scheduled:
        newest = model_registry.latest_model(session, camera.id)
        if relearn_due(camera.relearn_every_hours, newest.created_at if newest else None, now):
            out.append((camera.name, camera.relearn_every_hours))
    return out


@dataclass
class Relearner:
    """Runs due relearns as child processes (`command(name, hours)` -> argv)."""

    sessions: sessionmaker[Session]
    command: Callable[[str, float], list[str]]
    env: dict[str, str]
    log_dir: Path
    running: dict[str, subprocess.Popen] = field(default_factory=dict)

    def tick(self, now: datetime) -> list[str]:
        """Start the due cameras' relearns not already running; the names started."""
        self.running = {n: p for n, p in self.running.items() if p.poll() is None}
        try:
            with self.sessions() as session:
                due = due_cameras(session, now)
        except Exception as error:  # noqa: BLE001 - the database may be restarting
            log.warning("cannot check scheduled relearns: %s", error)
            return []
        started = []
        for name, hours in due:
            if name in self.running:
                continue
            log.info("camera %r: scheduled relearn from the last %g h", name, hours)
            with open_log(self.log_dir / f"relearn-{name}.log") as out:
                self.running[name] = subprocess.Popen(
                    self.command(name, hours), env=self.env, stdout=out, stderr=subprocess.STDOUT
                )
            started.append(name)
        return started

    def stop(self, timeout: float = 15.0) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
