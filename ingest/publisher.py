"""Publishing kept frames to Kafka: one record per frame, key = camera id.

Sends are asynchronous; a frame counts as kept only once the broker acknowledged it, and as
dropped when it could not be delivered or too many of the camera's frames are already in flight
(a stalled broker must not grow memory without bound).
"""

from __future__ import annotations

import logging
import threading
import time

import cv2
import numpy as np
from kafka import KafkaProducer

from vad.codec import FrameMeta, encode_jpeg, end_of_stream_headers
from vad.config import IngestConfig

log = logging.getLogger(__name__)


class DeliveryCounters:
    """Per-camera delivery outcomes, updated from the producer's I/O thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.kept = 0
        self.dropped = 0
        self.in_flight = 0
        self.last_error: str | None = None

    def sent(self) -> None:
        with self._lock:
            self.in_flight += 1

    def delivered(self, _metadata=None) -> None:
        with self._lock:
            self.in_flight -= 1
            self.kept += 1

    def failed(self, error: Exception) -> None:
        with self._lock:
            self.in_flight -= 1
            self.dropped += 1
            self.last_error = str(error)

    def dropped_now(self) -> None:
        with self._lock:
            self.dropped += 1

    def restore(self, kept: int, dropped: int) -> None:
        with self._lock:
            self.kept += kept
            self.dropped += dropped

    def take(self) -> tuple[int, int]:
        """Kept and dropped since the previous call."""
        with self._lock:
            kept, dropped = self.kept, self.dropped
            self.kept = self.dropped = 0
            return kept, dropped


class FramePublisher:
    def __init__(self, bootstrap: str, topic: str, config: IngestConfig) -> None:
        self.topic = topic
        self.config = config
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=5,
            retries=5,
            max_block_ms=2000,
            max_request_size=8 * 1024 * 1024,
            request_timeout_ms=10000,
        )

    def publish(
        self,
        camera_id: int,
        index: int,
        captured_at: float,
        image: np.ndarray,
        counters: DeliveryCounters,
    ) -> None:
        if counters.in_flight >= self.config.max_pending_frames:
            counters.dropped_now()
            return
        meta = FrameMeta(camera_id, index, captured_at, time.time())
        value = encode_jpeg(self._fit(image), self.config.jpeg_quality)
        counters.sent()
        try:
            future = self._producer.send(
                self.topic, key=str(camera_id).encode(), value=value, headers=meta.to_headers()
            )
        except Exception as error:  # noqa: BLE001 - broker unreachable: count and go on
            counters.failed(error)
            return
        future.add_callback(counters.delivered)
        future.add_errback(counters.failed)

    def publish_end(self, camera_id: int, captured_at: float) -> None:
        """Mark the end of a finite source, so its last window and open incident close now
        instead of waiting for frames that will never come."""
        headers = end_of_stream_headers(camera_id, captured_at, time.time())
        try:
            self._producer.send(self.topic, key=str(camera_id).encode(), value=b"", headers=headers)
        except Exception as error:  # noqa: BLE001 - the idle flush closes the window anyway
            log.warning("cannot publish end of stream for camera %s: %s", camera_id, error)

    def _fit(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        if width <= self.config.max_width:
            return image
        scale = self.config.max_width / width
        return cv2.resize(
            image, (self.config.max_width, round(height * scale)), interpolation=cv2.INTER_AREA
        )

    def flush(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        try:
            self._producer.flush(timeout=5)
        finally:
            self._producer.close(timeout=5)
