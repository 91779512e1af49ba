"""Publishing kept frames to Kafka (through `frames.producer`): one record per frame.

Between a camera's capture loop and the producer sits a small per-camera outbox: the camera only
ever appends to it (it never waits for the broker, so a stalled broker cannot make the camera's
stream fall behind), and a sender thread moves frames from it to the producer while fewer than
`max_pending_frames` of the camera's frames are unacknowledged. When the broker stalls, the outbox
fills and its *oldest* unsent frame is dropped and counted for each new one: after an outage the
pipeline resumes with what the camera sees now, not with a backlog of the past. File replays
(`lossless`) wait for room instead, since a file has no "now" to fall behind.

A frame counts as kept only once the broker acknowledged it, and as dropped when it was pushed out
of the outbox or could not be delivered. Memory per camera is bounded by
`max_queued_frames + max_pending_frames` encoded frames.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from frames.producer import FrameProducer
from frames.record import FrameMeta, end_of_stream_headers
from ingest.settings import IngestConfig
from vad.codec import encode_jpeg

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

    def dropped_now(self, count: int = 1) -> None:
        with self._lock:
            self.dropped += count

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


@dataclass(frozen=True, slots=True)
class OutgoingFrame:
    """One record waiting in an outbox: an encoded frame, or an end-of-stream marker
    (`value` empty), which travels the same queue so it can never overtake the frames before it."""

    value: bytes
    headers: list[tuple[str, bytes]]
    is_frame: bool = True


class LatestFrames:
    """A bounded FIFO that keeps the newest items: appending to a full queue pushes out the oldest.

    The policy lives here, apart from Kafka, so it can be tested on its own."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[OutgoingFrame] = deque()
        self._cond = threading.Condition()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: OutgoingFrame) -> int:
        """Append; returns how many frames were pushed out to make room (0 or 1). An end marker
        is never pushed out while frames are left to drop."""
        with self._cond:
            dropped = 0
            if len(self._items) >= self.capacity:
                victim = next((i for i, x in enumerate(self._items) if x.is_frame), None)
                if victim is not None:
                    del self._items[victim]
                    dropped = 1
            self._items.append(item)
            self._cond.notify_all()
            return dropped

    def put_wait(self, item: OutgoingFrame, stop: threading.Event) -> bool:
        """Append once there is room (lossless replay); False if `stop` was set first."""
        with self._cond:
            while len(self._items) >= self.capacity:
                if stop.is_set():
                    return False
                self._cond.wait(0.2)
            self._items.append(item)
            self._cond.notify_all()
            return True

    def take(self, timeout: float) -> OutgoingFrame | None:
        """The oldest item, or None after `timeout` seconds of an empty queue."""
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: self._items, timeout):
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def clear(self) -> int:
        """Discard everything left; returns the number of frames discarded."""
        with self._cond:
            frames = sum(1 for x in self._items if x.is_frame)
            self._items.clear()
            self._cond.notify_all()
            return frames

    def wait_empty(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._items, timeout)


class CameraOutbox:
    """One camera's queue in front of the producer, with the thread that empties it."""

    def __init__(
        self, publisher: FramePublisher, camera_id: int, counters: DeliveryCounters, lossless: bool
    ) -> None:
        self.publisher = publisher
        self.camera_id = camera_id
        self.counters = counters
        self.lossless = lossless
        self.queue = LatestFrames(publisher.config.max_queued_frames)
        self._closed = threading.Event()
        self._room = threading.Condition()
        self._sending = threading.Lock()  # held from taking a record until the producer has it
        self._thread = threading.Thread(
            target=self._send_loop, name=f"outbox-{camera_id}", daemon=True
        )
        self._thread.start()

    # --- the capture side ----------------------------------------------------------------------

    def put(self, index: int, captured_at: float, image: np.ndarray) -> None:
        meta = FrameMeta(self.camera_id, index, captured_at, time.time())
        value = encode_jpeg(self.publisher.fit(image), self.publisher.config.jpeg_quality)
        self._enqueue(OutgoingFrame(value, meta.to_headers()))

    def put_end(self, captured_at: float) -> None:
        """Mark the end of a finite source, so its last window and open incident close now
        instead of waiting for frames that will never come."""
        headers = end_of_stream_headers(self.camera_id, captured_at, time.time())
        self._enqueue(OutgoingFrame(b"", headers, is_frame=False))

    def _enqueue(self, item: OutgoingFrame) -> None:
        if self.lossless:
            if not self.queue.put_wait(item, self._closed) and item.is_frame:
                self.counters.dropped_now()
        elif self.queue.put(item):
            self.counters.dropped_now()

    # --- the broker side -----------------------------------------------------------------------

    def _send_loop(self) -> None:
        while not self._closed.is_set():
            if not self._wait_for_room():
                continue
            with self._sending:
                item = self.queue.take(0.2)
                if item is not None:
                    self._send(item)

    def _wait_for_room(self) -> bool:
        """Hold back while the camera's in-flight bound is reached (the broker is behind)."""
        bound = self.publisher.config.max_pending_frames

        def room_or_closed() -> bool:
            return self.counters.in_flight < bound or self._closed.is_set()

        with self._room:
            has_room = self._room.wait_for(room_or_closed, 0.2)
        return has_room and not self._closed.is_set()

    def _send(self, item: OutgoingFrame) -> None:
        if not item.is_frame:
            self.publisher.send_marker(self.camera_id, item)
            return
        self.counters.sent()
        try:
            future = self.publisher.send(self.camera_id, item)
        except Exception as error:  # noqa: BLE001 - broker unreachable: count and go on
            self._done(self.counters.failed, error)
            return
        future.add_callback(lambda meta: self._done(self.counters.delivered, meta))
        future.add_errback(lambda error: self._done(self.counters.failed, error))

    def _done(self, update: Callable[[Any], None], outcome: Any) -> None:
        """Count the outcome and wake the sender: a slot in the in-flight bound is free."""
        update(outcome)
        with self._room:
            self._room.notify_all()

    # --- lifecycle -----------------------------------------------------------------------------

    def drain(self, timeout: float) -> bool:
        """Wait until every queued record was handed to the producer."""
        if not self.queue.wait_empty(timeout):
            return False
        with self._sending:  # the record taken last is in the producer too
            return True

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (within `timeout`), then stop; leftovers are counted as dropped."""
        self.drain(timeout)
        self._closed.set()
        with self._room:
            self._room.notify_all()
        self._thread.join(5)
        left = self.queue.clear()
        if left:
            self.counters.dropped_now(left)
        self.publisher.forget(self)


class FramePublisher:
    """The process's one Kafka producer, shared by the cameras' outboxes."""

    def __init__(self, bootstrap: str, topic: str, config: IngestConfig) -> None:
        self.topic = topic
        self.config = config
        self._outboxes: set[CameraOutbox] = set()
        self._lock = threading.Lock()
        self._producer = FrameProducer(bootstrap, topic)

    def outbox(
        self, camera_id: int, counters: DeliveryCounters, lossless: bool = False
    ) -> CameraOutbox:
        """A new outbox for one camera's frames (close it when the camera stops)."""
        box = CameraOutbox(self, camera_id, counters, lossless)
        with self._lock:
            self._outboxes.add(box)
        return box

    def forget(self, box: CameraOutbox) -> None:
        with self._lock:
            self._outboxes.discard(box)

    def send(self, camera_id: int, item: OutgoingFrame):
        return self._producer.send(camera_id, item.value, item.headers)

    def send_marker(self, camera_id: int, item: OutgoingFrame) -> None:
        try:
            self.send(camera_id, item)
        except Exception as error:  # noqa: BLE001 - the idle flush closes the window anyway
            log.warning("cannot publish end of stream for camera %s: %s", camera_id, error)

    def fit(self, image: np.ndarray) -> np.ndarray:
        """Downscale (aspect kept) to at most `max_width` wide and, so that a tall frame from
        a broken or hostile camera cannot publish a huge record, at most twice that high."""
        height, width = image.shape[:2]
        max_height = 2 * self.config.max_width
        if width <= self.config.max_width and height <= max_height:
            return image
        scale = min(self.config.max_width / width, max_height / height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def flush(self, timeout: float = 10.0) -> None:
        """Hand every queued frame to the producer, then wait for the broker's answers."""
        deadline = time.monotonic() + timeout
        with self._lock:
            boxes = list(self._outboxes)
        for box in boxes:
            box.drain(max(0.0, deadline - time.monotonic()))
        self._producer.flush(max(0.5, deadline - time.monotonic()))

    def close(self) -> None:
        with self._lock:
            boxes = list(self._outboxes)
        try:
            for box in boxes:
                box.close(timeout=5)
            self._producer.flush(5)
        finally:
            self._producer.close(5)
