"""Kafka lag of the dispatcher: log end offset minus the position it resumes from.

The API's `/metrics` asks for end offsets on every scrape. It uses its own small consumer, not
the FrameReader's: a kafka-python consumer is not thread-safe, and clip export uses the reader's
from request threads at the same time. Calls are serialized by a lock and bounded by a short
timeout, so a broker outage makes a scrape skip the lag series instead of hanging it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from kafka import KafkaConsumer, TopicPartition


class LagProbe:
    """Log end offsets of (topic, partition)s, through one lazily opened consumer."""

    def __init__(self, bootstrap: str, timeout_ms: int = 2000) -> None:
        self.bootstrap, self.timeout_ms = bootstrap, timeout_ms
        self._consumer: KafkaConsumer | None = None
        self._lock = threading.Lock()

    def end_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """{(topic, partition): offset of the next record}; raises on a broker failure."""
        wanted = [TopicPartition(t, p) for t, p in sorted(set(partitions))]
        if not wanted:
            return {}
        with self._lock:
            if self._consumer is None:
                self._consumer = KafkaConsumer(
                    bootstrap_servers=self.bootstrap,
                    group_id=None,
                    enable_auto_commit=False,
                    request_timeout_ms=max(self.timeout_ms, 1000) + 1000,
                )
            try:
                found = self._consumer.end_offsets(wanted, timeout_ms=self.timeout_ms)
            except Exception:
                self._close()  # reconnect from scratch on the next scrape
                raise
        return {(tp.topic, tp.partition): int(offset) for tp, offset in found.items()}

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            finally:
                self._consumer = None


def partition_lag(
    positions: Iterable[tuple[str, str, int, int]], ends: dict[tuple[str, int], int]
) -> list[tuple[str, str, int, int]]:
    """(topic, topic id, partition, lag) for each dispatch position whose partition has a known
    end. A position past the end belongs to an older incarnation of the log (the topic was
    recreated and starts again at 0), so it is left out rather than reported as negative lag."""
    lags = []
    for topic, topic_id, partition, position in positions:
        end = ends.get((topic, partition))
        if end is not None and position <= end:
            lags.append((topic, topic_id, partition, end - position))
    return lags
