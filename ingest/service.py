"""The ingest process: one `CameraIngestor` per enabled camera, kept in sync with the database.

Cameras added, removed or changed with `vad camera ...` (or the API) are picked up within seconds;
status and counters flow back to the database once a second.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from db import queries
from db.models import Camera
from db.secrets import SecretBox, open_url
from db.session import transaction
from ingest.camera import CameraIngestor, CameraSpec
from ingest.publisher import FramePublisher
from vad.address_policy import AddressPolicy
from vad.config import IngestConfig
from vad.urls import redact_url

log = logging.getLogger(__name__)

_SYNC_EVERY_SECONDS = 2.0


def camera_spec(
    camera: Camera,
    config: IngestConfig,
    box: SecretBox | None = None,
    policy: AddressPolicy | None = None,
) -> CameraSpec:
    """The camera as ingest runs it: with its credentials opened (`box`) and the address policy
    its connections go through."""
    return CameraSpec(
        id=camera.id,
        name=camera.name,
        url=open_url(box, camera.url, camera.url_sealed),
        fps=camera.fps or config.default_fps,
        loop=camera.loop,
        resume_index=camera.resume_index or 0,
        policy=policy,
        verify_tls=camera.verify_tls,
    )


def report(sessions: sessionmaker[Session], ingestors: list[CameraIngestor]) -> int | None:
    """Write every ingestor's status and counter deltas; a database hiccup only delays them.
    Returns the number of kept frames written, None when nothing could be written."""
    reports = [ingestor.take_report() for ingestor in ingestors]
    try:
        with transaction(sessions) as session:
            for item in reports:
                queries.apply_ingest_report(session, item)
    except Exception as error:  # noqa: BLE001
        log.warning("cannot write camera status (%s); will retry", error)
        for ingestor, item in zip(ingestors, reports, strict=True):
            ingestor.give_back(item)
        return None
    return sum(item.kept for item in reports)


class IngestService:
    def __init__(
        self,
        config: IngestConfig,
        sessions: sessionmaker[Session],
        publisher: FramePublisher,
        box: SecretBox | None = None,
        policy: AddressPolicy | None = None,
    ) -> None:
        """`box` opens sealed camera credentials; `policy` is the camera address policy (the
        `vad ingest` process passes both, from its settings)."""
        self.box = box
        self.policy = policy
        self.config = config
        self.sessions = sessions
        self.publisher = publisher
        self.ingestors: dict[int, CameraIngestor] = {}
        self._retired: list[CameraIngestor] = []  # stopped, final counts not yet written

    def run(self, stop: threading.Event) -> None:
        next_sync = 0.0
        elapsed = 0.0
        while not stop.is_set():
            if elapsed >= next_sync:
                self.sync()
                next_sync = elapsed + _SYNC_EVERY_SECONDS
            self._report_all()
            stop.wait(self.config.status_interval_seconds)
            elapsed += self.config.status_interval_seconds
        self.shutdown()

    def sync(self) -> None:
        try:
            with self.sessions() as session:
                wanted = {
                    c.id: camera_spec(c, self.config, self.box, self.policy)
                    for c in queries.list_cameras(session, enabled_only=True)
                }
        except Exception as error:  # noqa: BLE001
            log.warning("cannot read cameras (%s); keeping the current set", error)
            return
        for camera_id, ingestor in list(self.ingestors.items()):
            spec = wanted.get(camera_id)
            if spec is None or spec.key != ingestor.spec.key:
                log.info("stopping ingest of camera %s", ingestor.spec.name)
                ingestor.stop()
                self._retired.append(ingestor)
                del self.ingestors[camera_id]
        for camera_id, spec in wanted.items():
            if camera_id not in self.ingestors:
                log.info("starting ingest of camera %s (%s)", spec.name, redact_url(spec.url))
                ingestor = CameraIngestor(spec, self.config, self.publisher)
                ingestor.start()
                self.ingestors[camera_id] = ingestor

    def shutdown(self) -> None:
        for ingestor in self.ingestors.values():
            ingestor.request_stop()
        for ingestor in self.ingestors.values():
            ingestor.stop()
            if not ingestor.finished.is_set() or ingestor.status == "online":
                ingestor.status, ingestor.reason = "offline", "service stopped"
        self.publisher.flush()
        for _ in range(10):  # the database may be restarting: do not lose the last counts
            if self._report_all():
                return
            time.sleep(1.0)
        log.error("could not write the final camera counters")

    def _report_all(self) -> bool:
        """Report live and retired ingestors; retired ones are forgotten once written."""
        if report(self.sessions, [*self.ingestors.values(), *self._retired]) is None:
            return False
        self._retired.clear()
        return True
