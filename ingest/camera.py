"""One camera's ingest loop: read, sample, prune, publish; reconnect with backoff on failure.

Each camera runs in its own thread with its own timeouts, so a dead or frozen camera only ever
delays itself.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from ingest.publisher import DeliveryCounters, FramePublisher
from ingest.settings import IngestConfig
from ingest.sources import SourceError, VideoSource, backoff_delays
from vad.address_policy import AddressPolicy
from vad.pruning import StaticFramePruner
from vad.sampling import AnalysisSampler
from vad.types import IngestReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """What ingest needs to know about a camera (a snapshot of its database row, made by the
    service that wires ingest up)."""

    id: int
    name: str
    url: str = field(repr=False)  # the URL to connect to: may hold credentials, never logged
    fps: float
    loop: bool
    resume_index: int = 0
    not_before: float = 0.0
    policy: AddressPolicy | None = field(default=None, repr=False)
    verify_tls: bool = True

    @property
    def key(self) -> tuple:
        return (self.url, self.fps, self.loop, self.verify_tls)


class CameraIngestor:
    """Runs `CameraSpec` until stopped (or until a non-looping file ends).

    `pace` makes file sources play at their own speed, like a camera would; replays with
    `--fast` turn it off to push frames through as fast as the pipeline takes them.
    """

    def __init__(
        self, spec: CameraSpec, config: IngestConfig, publisher: FramePublisher, pace: bool = True
    ) -> None:
        self.spec = spec
        self.config = config
        self.publisher = publisher
        self.pace = pace
        self.counters = DeliveryCounters()
        # a paced source is live: keep its newest frames; an unpaced replay must lose nothing
        self.outbox = publisher.outbox(spec.id, self.counters, lossless=not pace)
        self.pruner = StaticFramePruner.from_config(config)
        self.status = "connecting"
        self.reason: str | None = None
        self.resume_index: int | None = None
        self.source_fps: float | None = None  # announced by the latest connection (0.0: none)
        self.analysed_fps: float | None = None  # the latest connection's sampler applies it
        self.started_at: float | None = None
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._reported_pruned = 0
        self._thread = threading.Thread(target=self._run, name=f"ingest-{spec.name}", daemon=True)

    # --- control -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Signal the loop without waiting, so many cameras drain their outboxes in parallel."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def take_report(self) -> IngestReport:
        kept, dropped = self.counters.take()
        pruned = self.pruner.pruned - self._reported_pruned
        self._reported_pruned += pruned
        return IngestReport(
            self.spec.id,
            self.status,
            self.reason,
            kept,
            pruned,
            dropped,
            self.resume_index,
            self.source_fps,
            self.analysed_fps,
        )

    def give_back(self, report: IngestReport) -> None:
        """Undo `take_report` when its report could not be written, so no count is lost."""
        self.counters.restore(report.kept, report.dropped)
        self._reported_pruned -= report.pruned

    # --- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        delays = backoff_delays(
            self.config.backoff_initial_seconds, self.config.backoff_max_seconds
        )
        failures = 0
        start_index = self.spec.resume_index
        try:
            while not self._stop.is_set():
                try:
                    ended = self._stream(start_index)
                except SourceError as error:
                    failures += 1
                    self._set_status_after_failure(error, failures)
                    if not error.retryable:
                        return
                    if self._stop.wait(next(delays)):
                        return
                    if self.resume_index is not None:
                        start_index = self.resume_index
                    continue
                if ended:
                    self._set_status("offline", "end of file")
                    return
                failures = 0
                delays = backoff_delays(
                    self.config.backoff_initial_seconds, self.config.backoff_max_seconds
                )
        except Exception as error:  # noqa: BLE001 - a bug must show in the status, not vanish
            log.exception("camera %s ingest crashed", self.spec.name)
            self._set_status("offline", f"ingest error: {error}")
        finally:
            self.outbox.close(timeout=self.config.drain_timeout_seconds)
            self.finished.set()

    def _stream(self, start_index: int) -> bool:
        """Read until stopped (False) or the end of a file (True); raises SourceError.

        The end of a file, and of every pass of a looping one, publishes the end-of-stream
        marker: the last window and an open incident close there, and the next pass is scored
        without look-back frames from before the jump."""
        with VideoSource(
            self.spec.url,
            loop=self.spec.loop,
            open_timeout=self.config.open_timeout_seconds,
            read_timeout=self.config.read_timeout_seconds,
            start_index=start_index,
            policy=self.spec.policy,
            verify_tls=self.spec.verify_tls,
        ) as source:
            sampler = AnalysisSampler(self.spec.fps, source.fps)  # per connection: its own count
            self.source_fps, self.analysed_fps = source.fps or 0.0, sampler.rate
            self._set_status("online", None)
            counting = sampler.counting
            base: float | None = None
            first_pts = 0.0
            last_time = time.time()
            started = time.monotonic()
            while not self._stop.is_set():
                frame = source.read()
                if frame is None:
                    self.outbox.put_end(last_time)
                    return True
                if frame.starts_pass:  # a looping file jumped back: each pass is its own stream
                    self.outbox.put_end(last_time)
                if base is None:
                    start = max(time.time(), self.spec.not_before)
                    base, first_pts = start - frame.pts, frame.pts
                    self.started_at = start
                self.resume_index = frame.index + 1
                if self.pace and source.is_file:
                    self._wait_until(started + frame.pts - first_pts)
                due = sampler.due(frame.pts)
                if counting and not sampler.counting:
                    counting = False
                    self._say_uneven(source.fps, sampler.rate)
                if not due or not self.pruner.keep(frame.image, frame.pts):
                    continue
                captured_at = last_time = base + frame.pts
                self.outbox.put(frame.index, captured_at, frame.image)
            return False

    def _say_uneven(self, announced: float | None, rate: float) -> None:
        log.info(
            "camera %s does not keep its announced %g fps: sampled by media time at %.3g fps "
            "for the rest of this stream (uneven steps)",
            self.spec.name,
            announced or 0.0,
            rate,
        )

    def _wait_until(self, monotonic_deadline: float) -> None:
        delay = monotonic_deadline - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)

    def _set_status_after_failure(self, error: SourceError, failures: int) -> None:
        if not error.retryable or failures >= self.config.offline_after_failures:
            self._set_status("offline", error.reason)
        else:
            self._set_status("reconnecting", error.reason)
        log.warning("camera %s: %s (%s)", self.spec.name, error.reason, self.status)

    def _set_status(self, status: str, reason: str | None) -> None:
        if (status, reason) != (self.status, self.reason):
            log.info("camera %s is %s%s", self.spec.name, status, f": {reason}" if reason else "")
        self.status, self.reason = status, reason
