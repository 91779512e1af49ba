"""The frames topic as a log: its identity, and reading a window back by offset.

A window task carries only (topic, partition, first_offset, last_offset); this module turns that
claim check back into records. The topic id names one incarnation of the log: an in-memory broker
that restarted, or a topic that was recreated, has a new id, so stale offsets are never read as if
they were the old frames.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


class WindowUnavailable(Exception):
    """The window's records are not in the log (retention, or the log was recreated)."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def ensure_topic(bootstrap: str, topic: str, partitions: int, timeout: float = 30.0) -> str:
    """Create the topic if missing and return its topic id (the log's identity)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
            break
        except Exception as error:  # noqa: BLE001 - broker still starting
            if time.monotonic() > deadline:
                raise ConnectionError(f"Kafka at {bootstrap} is not reachable: {error}") from error
            time.sleep(0.3)
    try:
        try:
            admin.create_topics([NewTopic(topic, partitions, 1)])
        except TopicAlreadyExistsError:
            pass
        return topic_identity(admin, topic, deadline)
    finally:
        admin.close()


def topic_identity(admin: KafkaAdminClient, topic: str, deadline: float) -> str:
    while True:
        described = admin.describe_topics([topic])[0]
        topic_id = str(described.get("topic_id") or "")
        if described.get("error_code", 0) == 0 and topic_id.strip("0-"):
            return topic_id
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic!r} has no id yet: {described}")
        time.sleep(0.2)


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

    KafkaConsumer is not thread-safe: a lock serializes calls on a shared reader, and a reader
    that serves concurrent requests for long reads (clip export) should be one per request.
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
        with self._lock:
            return list(self.iter_range(topic, partition, first, last, timeout))

    def iter_range(
        self, topic: str, partition: int, first: int, last: int, timeout: float = 15.0
    ) -> Iterator[LogRecord]:
        """The records with first <= offset <= last, in order, as they arrive (a long range is
        never held in memory). Use from one thread at a time; TimeoutError past `timeout`."""
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
                        yield LogRecord(r.offset, r.key, r.value, list(r.headers or []))
                    elif r.offset > last:
                        position = last

    def read_one(self, topic: str, partition: int, offset: int) -> LogRecord:
        return self.read_range(topic, partition, offset, offset)[0]
