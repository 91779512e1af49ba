"""Ingest backpressure: a stalled broker makes ingest keep the newest frames, drop (and count) the
oldest unsent ones, and hold a bounded number of frames in memory."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import numpy as np
import pytest

from frames.record import FrameMeta
from ingest.publisher import CameraOutbox, DeliveryCounters, LatestFrames, OutgoingFrame
from ingest.settings import IngestConfig


def _frame(n: int) -> OutgoingFrame:
    return OutgoingFrame(str(n).encode(), [("n", str(n).encode())])


def _end() -> OutgoingFrame:
    return OutgoingFrame(b"", [], is_frame=False)


def test_full_queue_drops_the_oldest_and_keeps_the_newest():
    queue = LatestFrames(3)
    dropped = sum(queue.put(_frame(n)) for n in range(10))
    assert dropped == 7
    assert [queue.take(0).value for _ in range(3)] == [b"7", b"8", b"9"]
    assert queue.take(0.01) is None


def test_end_marker_is_never_pushed_out_while_frames_can_be():
    queue = LatestFrames(2)
    queue.put(_frame(1))
    queue.put(_end())
    assert queue.put(_frame(2)) == 1  # frame 1 goes, the marker stays ahead of frame 2
    assert [queue.take(0).is_frame for _ in range(2)] == [False, True]


def test_put_wait_blocks_until_room_and_gives_up_on_stop():
    queue = LatestFrames(1)
    stop = threading.Event()
    assert queue.put_wait(_frame(1), stop)
    events: list[str] = []

    def make_room() -> None:
        events.append("room")
        queue.take(0)

    threading.Timer(0.2, make_room).start()
    assert queue.put_wait(_frame(2), stop)
    events.append("put")
    assert events == ["room", "put"]  # it waited for the room, however slow the machine
    stop.set()
    assert not queue.put_wait(_frame(3), stop)
    assert len(queue) == 1


class FakePublisher:
    """Stands in for FramePublisher: records sends; futures are resolved by the test (the
    'broker'), so it can stall and recover on demand."""

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.pending: list[tuple[bytes, Future]] = []
        self.delivered: list[int] = []
        self.markers = 0
        self._lock = threading.Lock()

    def fit(self, image: np.ndarray) -> np.ndarray:
        return image

    def send(self, camera_id: int, item: OutgoingFrame) -> Future:
        future: Future = Future()
        with self._lock:
            self.pending.append((item.value, future))
        return future

    def send_marker(self, camera_id: int, item: OutgoingFrame) -> None:
        self.markers += 1

    def forget(self, box: CameraOutbox) -> None:
        pass

    def acknowledge_all(self) -> None:
        with self._lock:
            pending, self.pending = self.pending, []
        for value, future in pending:
            self.delivered.append(len(value))
            future.set_result(None)


def _outbox(
    publisher: FakePublisher, lossless: bool = False
) -> tuple[CameraOutbox, DeliveryCounters]:
    counters = DeliveryCounters()
    box = CameraOutbox(publisher, 7, counters, lossless)  # type: ignore[arg-type]
    return box, counters


@pytest.fixture(autouse=True)
def _kafka_style_callbacks(monkeypatch):
    """kafka-python futures take add_callback/add_errback; give concurrent Futures the same."""
    monkeypatch.setattr(
        Future,
        "add_callback",
        lambda self, fn: self.add_done_callback(
            lambda f: fn(None) if f.exception() is None else None
        ),
        raising=False,
    )
    monkeypatch.setattr(
        Future,
        "add_errback",
        lambda self, fn: self.add_done_callback(
            lambda f: fn(f.exception()) if f.exception() is not None else None
        ),
        raising=False,
    )


def _image(n: int) -> np.ndarray:
    image = np.zeros((16, 16, 3), np.uint8)
    image[:, :] = n
    return image


def _wait(predicate, timeout: float = 30.0) -> None:
    """Poll until `predicate()`; the deadline is generous so a busy machine only waits longer."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_stalled_broker_keeps_newest_frames_and_bounds_memory():
    config = IngestConfig(max_pending_frames=3, max_queued_frames=4)
    publisher = FakePublisher(config)
    box, counters = _outbox(publisher)
    sent_headers: list[int] = []
    original_send = publisher.send

    def send(camera_id: int, item: OutgoingFrame) -> Future:
        sent_headers.append(FrameMeta.from_headers(item.headers).index)
        return original_send(camera_id, item)

    publisher.send = send  # type: ignore[method-assign]
    for n in range(3):
        box.put(n, 1000.0 + n, _image(n))
    _wait(lambda: counters.in_flight == 3)
    for n in range(3, 20):  # the broker acknowledges nothing: a stall
        box.put(n, 1000.0 + n, _image(n))
    time.sleep(0.3)
    assert counters.in_flight == 3 and len(box.queue) == 4  # bounded: 3 in flight + 4 queued
    assert counters.dropped == 20 - 3 - 4
    deadline = time.monotonic() + 30  # the broker recovers
    while (counters.in_flight or len(box.queue)) and time.monotonic() < deadline:
        publisher.acknowledge_all()
        time.sleep(0.05)
    box.close(timeout=30)
    assert sent_headers == [0, 1, 2, 16, 17, 18, 19]  # the oldest unsent went, the newest stayed
    kept, dropped = counters.take()
    assert (kept, dropped) == (7, 13)


def test_lossless_replay_waits_instead_of_dropping():
    config = IngestConfig(max_pending_frames=2, max_queued_frames=2)
    publisher = FakePublisher(config)
    box, counters = _outbox(publisher, lossless=True)
    stop = threading.Event()

    def broker() -> None:
        while not stop.is_set():
            publisher.acknowledge_all()
            time.sleep(0.01)

    thread = threading.Thread(target=broker, daemon=True)
    thread.start()
    for n in range(30):
        box.put(n, 1000.0 + n, _image(n))
    box.put_end(1030.0)
    box.close(timeout=30)
    stop.set()
    thread.join()
    assert counters.take() == (30, 0)
    assert publisher.markers == 1


def test_close_counts_what_could_not_be_sent():
    config = IngestConfig(max_pending_frames=1, max_queued_frames=5)
    publisher = FakePublisher(config)
    box, counters = _outbox(publisher)
    for n in range(4):
        box.put(n, 1000.0 + n, _image(n))
    _wait(lambda: counters.in_flight == 1 and len(box.queue) == 3)
    box.close(timeout=0.3)  # broker still down: 1 in flight, 3 never sent
    assert counters.dropped == 3 and counters.in_flight == 1
