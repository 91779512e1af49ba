"""Reading the frames topic back by offset.

A window task carries only (topic, partition, first_offset, last_offset); this module turns that
claim check back into records, each attributed to its camera by the key (`frames.record`). Which
of those records are a camera's frames, decoded, is `frames.window`'s business.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from frames.record import Headers, camera_of_key


class WindowUnavailable(Exception):
    """The window's records are not in the log (retention, or the log was recreated)."""


# What reading the log raises when the log, not the reader, is the problem: records gone, not
# readable (yet), the broker away. Retried by the tasks; expected during outages and restarts.
LOG_UNAVAILABLE: tuple[type[Exception], ...] = (WindowUnavailable, TimeoutError, KafkaError)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record of the frames topic; `camera_id` is None when its key names no camera."""

    offset: int
    camera_id: int | None
    value: bytes
    headers: Headers


def make_consumer(bootstrap: str) -> KafkaConsumer:
    """A group-less consumer: partitions are assigned by hand and positions live in PostgreSQL."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        request_timeout_ms=15000,
    )


class FrameReader:
    """Reads offset ranges back from the frames topic; one long-lived consumer per reader.

    KafkaConsumer is not thread-safe: a lock serializes range reads on a shared reader (held for
    a whole iteration), and concurrent long reads (clip export) should use a reader each.
    """

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._consumer: KafkaConsumer | None = None
        self._lock = threading.RLock()

    def _get(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = make_consumer(self.bootstrap)
        return self._consumer

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def read_range(
        self, topic: str, partition: int, first: int, last: int, timeout: float = 15.0
    ) -> list[LogRecord]:
        """All records with first <= offset <= last, in order."""
        return list(self.iter_range(topic, partition, first, last, timeout))

    def iter_range(
        self, topic: str, partition: int, first: int, last: int, timeout: float = 15.0
    ) -> Iterator[LogRecord]:
        """The records with first <= offset <= last, in order, as they arrive (a long range is
        never held in memory). The reader is held until the iteration ends (or is closed), so
        a shared reader serves one range at a time; TimeoutError past `timeout`."""
        with self._lock:
            yield from self._iter_range(topic, partition, first, last, timeout)

    def _iter_range(
        self, topic: str, partition: int, first: int, last: int, timeout: float
    ) -> Iterator[LogRecord]:
        consumer = self._get()
        tp = TopicPartition(topic, partition)
        try:
            end = consumer.end_offsets([tp])[tp]
            start = consumer.beginning_offsets([tp])[tp]
        except Exception:
            self.close()
            raise
        if first < start:
            raise WindowUnavailable(
                f"offsets {first}..{last} of {topic}[{partition}] are no longer in the log "
                f"(it holds {start}..{end - 1}: retention passed, or the log was recreated)"
            )
        if last >= end:
            # The broker may not have advanced its high watermark yet: retried with backoff,
            # and the window fails with this message only after the last attempt.
            raise TimeoutError(
                f"offsets {first}..{last} of {topic}[{partition}] are not readable yet "
                f"(log end {end})"
            )
        consumer.assign([tp])
        consumer.seek(tp, first)
        position = first - 1
        deadline = time.monotonic() + timeout
        while position < last:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}[{partition}] {first}..{last} timed out")
            for batch in consumer.poll(timeout_ms=500, max_records=500).values():
                for r in batch:
                    if position < r.offset <= last:
                        position = r.offset
                        deadline = time.monotonic() + timeout  # progress: a long range is fine
                        yield LogRecord(
                            r.offset, camera_of_key(r.key), r.value, list(r.headers or [])
                        )
                    elif r.offset > last:
                        position = last
