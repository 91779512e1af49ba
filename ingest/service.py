"""The ingest process: one `CameraIngestor` per enabled camera, kept in sync with the camera list.

Cameras added, removed or changed with `vad camera ...` (or the API) are picked up within seconds;
status and counters flow back once a second. Where the list comes from and where status goes (the
database) is wired in by service/ (`service.ingest_db`): ingest/ knows no database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ingest.camera import CameraIngestor, CameraSpec
from ingest.publisher import FramePublisher
from ingest.settings import IngestConfig
from vad.types import IngestReport
from vad.urls import redact_url

log = logging.getLogger(__name__)

_SYNC_EVERY_SECONDS = 2.0


CameraList = Callable[[], list[CameraSpec]]
"""The cameras to ingest now (enabled ones, credentials opened); raises when it cannot tell."""

StatusSink = Callable[[list[IngestReport]], None]
"""Stores ingestors' reports, all or none; raises when it could not."""


def report(sink: StatusSink, ingestors: list[CameraIngestor]) -> int | None:
    """Hand every ingestor's status and counter deltas to `sink`; a failure only delays them.
    Returns the number of kept frames stored, None when nothing could be stored."""
    reports = [ingestor.take_report() for ingestor in ingestors]
    try:
        sink(reports)
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
        cameras: CameraList,
        status: StatusSink,
        publisher: FramePublisher,
    ) -> None:
        """`cameras` lists what to ingest and `status` stores reports (the `vad ingest` process
        passes the database's, `service.ingest_db`)."""
        self.config = config
        self.cameras = cameras
        self.status = status
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
            wanted = {spec.id: spec for spec in self.cameras()}
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
        if report(self.status, [*self.ingestors.values(), *self._retired]) is None:
            return False
        self._retired.clear()
        return True
