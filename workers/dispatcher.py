"""The dispatcher: Kafka frames -> per-camera windows -> one Celery task per window.

Positions live in PostgreSQL, written in the same transaction as the windows they produce, so a
dispatcher killed at any point resumes without losing or repeating a window. Tasks are sent after
the commit (a transactional outbox): a task lost between commit and send, or with a worker that
died, is found by the reaper and sent again; workers make the repeat harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from celery import Celery
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db import clock, dispatch_queries, window_queries
from db.session import transaction
from frames.reader import make_consumer
from frames.record import FrameMeta, camera_of_key, is_end_of_stream
from workers.celery_app import queue_length
from workers.settings import WorkerSettings
from workers.tasks import WindowTask, enqueue
from workers.windowing import ClosedWindow, PartitionWindower

log = logging.getLogger(__name__)

_REAP_EVERY_SECONDS = 2.0


class Dispatcher:
    def __init__(
        self,
        settings: WorkerSettings,
        sessions: sessionmaker[Session],
        celery: Celery,
        bootstrap: str,
        topic_id: str,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.celery = celery
        self.bootstrap = bootstrap
        self.topic = settings.kafka_topic
        self.topic_id = topic_id
        self.windowers: dict[int, PartitionWindower] = {}
        self.stats = {"records": 0, "windows": 0, "requeued": 0, "unattributed": 0}
        self._consumer: KafkaConsumer | None = None
        self._last_reap = 0.0

    # --- life cycle ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self._consumer = make_consumer(self.bootstrap)
        self._assign(self._consumer)
        log.info(
            "dispatcher on %s (log %s), partitions %s",
            self.topic,
            self.topic_id,
            sorted(self.windowers),
        )
        try:
            while not stop.is_set():
                try:
                    self.step(timeout_ms=200)
                except SQLAlchemyError as error:
                    log.warning("database unavailable (%s); resuming from saved positions", error)
                    self._resume(stop)
            if not self.windowers:
                return  # stopped while the database was down: nothing in memory to flush
            self.step(timeout_ms=500)  # what ingest sent just before it stopped
            for windower in self.windowers.values():
                rest = windower.flush_all()
                if rest:
                    self._emit(windower, rest)
        finally:
            self._consumer.close()

    def _resume(self, stop: threading.Event) -> None:
        """After a failed database write, start over from the positions last committed, like a
        restarted dispatcher: windows cut in memory but not saved are cut again from the log."""
        while not stop.wait(1.0):
            try:
                self.windowers.clear()
                self._assign(self._consumer)
                log.info("database back; resumed from saved positions")
                return
            except SQLAlchemyError as error:
                log.debug("database still unavailable: %s", error)

    def _assign(self, consumer: KafkaConsumer) -> None:
        partitions = sorted(consumer.partitions_for_topic(self.topic) or [])
        if not partitions:
            raise RuntimeError(f"topic {self.topic!r} has no partitions (is it created?)")
        tps = [TopicPartition(self.topic, p) for p in partitions]
        consumer.assign(tps)
        w = self.settings.windows
        with self.sessions() as session:
            for tp in tps:
                progress = dispatch_queries.load_progress(session, self.topic_id, tp.partition)
                last = {int(k): v for k, v in (progress.camera_last if progress else {}).items()}
                ctx = {int(k): v for k, v in (progress.camera_context if progress else {}).items()}
                self.windowers[tp.partition] = PartitionWindower(
                    tp.partition,
                    w.seconds,
                    w.idle_flush_seconds,
                    w.context_frames,
                    last,
                    ctx,
                    look_ahead_seconds=self.settings.scoring.look_ahead_seconds,
                )
                if progress is not None:
                    consumer.seek(tp, progress.position)
                else:
                    consumer.seek_to_beginning(tp)

    # --- one iteration ---------------------------------------------------------------------------

    def step(self, timeout_ms: int = 200) -> None:
        assert self._consumer is not None
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=1000)
        now = time.monotonic()
        for tp, records in batches.items():
            windower = self.windowers[tp.partition]
            closed = self.cut(windower, records, now)
            if closed:
                self._emit(windower, closed)
        for windower in self.windowers.values():
            idle = windower.flush_idle(now)
            if idle:
                self._emit(windower, idle)
        if now - self._last_reap >= _REAP_EVERY_SECONDS:
            self._last_reap = now
            self.reap()

    def cut(self, windower: PartitionWindower, records, now: float) -> list[ClosedWindow]:
        """Feed one partition's records (in offset order) to its windower; the windows they
        close. No I/O: what to persist and send is `_emit`'s business."""
        closed: list[ClosedWindow] = []
        for record in records:
            self.stats["records"] += 1
            camera_id, captured_at = self._attribute(record)
            if camera_id is None:
                continue
            if is_end_of_stream(record.headers):
                closed += windower.end(camera_id, record.offset, captured_at)
            else:
                closed += windower.add(camera_id, record.offset, captured_at, now)
        return closed

    def _attribute(self, record) -> tuple[int | None, float]:
        """Which camera a record belongs to. The key decides; a record without a usable key
        cannot be windowed and is counted, never allowed to stop the partition."""
        camera_id = camera_of_key(record.key)
        if camera_id is None:
            self.stats["unattributed"] += 1
            log.error(
                "record %s[%s]@%s has no camera key; skipped",
                record.topic,
                record.partition,
                record.offset,
            )
            return None, 0.0
        try:
            captured_at = FrameMeta.from_headers(list(record.headers or [])).captured_at
        except ValueError:
            captured_at = time.time()  # poison headers: windowed by arrival, scored as an error
        return camera_id, captured_at

    def _emit(self, windower: PartitionWindower, closed: list[ClosedWindow]) -> None:
        """Persist windows + resume position atomically, then send their tasks."""
        tasks: list[WindowTask] = []
        last, context = windower.snapshot()
        with transaction(self.sessions) as session:
            for c in closed:
                window = window_queries.insert_window(
                    session,
                    camera_id=c.camera_id,
                    topic=self.topic,
                    topic_id=self.topic_id,
                    partition=c.partition,
                    first_offset=c.first_offset,
                    last_offset=c.last_offset,
                    context_offset=c.context_offset,
                    n_frames=c.n_frames,
                    start_at=c.start_at,
                    end_at=c.end_at,
                    end_of_stream=c.end_of_stream,
                    ahead_offset=c.ahead_offset,
                )
                if window is not None:
                    tasks.append(WindowTask.of(window))
            dispatch_queries.save_progress(
                session,
                self.topic,
                self.topic_id,
                windower.partition,
                windower.safe_position(),
                last,
                context,
            )
        for task in tasks:
            enqueue(self.celery, task)
        self.stats["windows"] += len(tasks)

    # --- recovery ---------------------------------------------------------------------------------

    def reap(self) -> int:
        """Send again windows that look lost. Queued windows count as lost only when the task queue
        is empty (otherwise they are just waiting their turn)."""
        w = self.settings.windows
        try:
            queue_empty = queue_length(self.celery) == 0
        except Exception as error:  # noqa: BLE001 - broker down: try again next round
            log.warning("cannot read the task queue length: %s", error)
            return 0
        cutoff = clock.now_utc() - timedelta(seconds=w.requeue_after_seconds)
        with transaction(self.sessions) as session:
            stale = window_queries.stale_windows(session, cutoff, include_queued=queue_empty)
            tasks = [WindowTask.of(window) for window in stale]
            window_queries.mark_requeued(session, [t.window_id for t in tasks])
        for task in tasks:
            log.warning("window %s looks lost; enqueued again", task.window_id)
            enqueue(self.celery, task)
        self.stats["requeued"] += len(tasks)
        return len(tasks)
