"""The producer of the frames topic: one record per frame, keyed by camera, acknowledged by all
in-sync replicas (a frame counts as kept only once the broker has it)."""

from __future__ import annotations

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata

from frames.record import Headers, camera_key


class FrameProducer:
    """A process's one Kafka producer for frame records; thread-safe (kafka-python's is)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=5,
            retries=5,
            max_block_ms=2000,
            max_request_size=8 * 1024 * 1024,
            request_timeout_ms=10000,
        )

    def send(self, camera_id: int, value: bytes, headers: Headers) -> FutureRecordMetadata:
        """Queue one record of camera `camera_id`; the future settles on the broker's answer."""
        return self._producer.send(
            self.topic, key=camera_key(camera_id), value=value, headers=headers
        )

    def flush(self, timeout: float) -> None:
        self._producer.flush(timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._producer.close(timeout=timeout)
