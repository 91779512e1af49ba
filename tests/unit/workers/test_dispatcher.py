"""The dispatcher's record handling without a broker: which camera a record belongs to, poison
records counted instead of stopping the partition, end-of-stream markers closing windows."""

from __future__ import annotations

import time

from kafka.consumer.fetcher import ConsumerRecord

from frames.record import FrameMeta, end_of_stream_headers
from service.settings import Settings
from workers.dispatcher import Dispatcher
from workers.windowing import PartitionWindower

T0 = 1_767_225_600.0


def _record(offset: int, key: bytes | None, headers: list) -> ConsumerRecord:
    """A record as kafka-python's consumer hands it over."""
    return ConsumerRecord("frames", 0, -1, offset, 0, 0, key, b"jpeg", headers, None, 0, 4, 0)


def _frame(offset: int, camera: int, at: float) -> ConsumerRecord:
    return _record(offset, str(camera).encode(), FrameMeta(camera, offset, at, at).to_headers())


def _dispatcher() -> tuple[Dispatcher, PartitionWindower]:
    """No database, broker or Celery: `cut` and `_attribute` touch none of them."""
    dispatcher = Dispatcher(Settings(_env_file=None), None, None, "127.0.0.1:9", "log-1")
    return dispatcher, PartitionWindower(0, 2.0, 5.0, context_frames=2)


def test_frames_are_windowed_per_camera_by_media_time() -> None:
    dispatcher, windower = _dispatcher()
    records = [_frame(o, 1 + o % 2, T0 + o * 0.25) for o in range(20)]  # 2 cameras, 5 s
    closed = dispatcher.cut(windower, records, now=0.0)
    by_camera = {c: [w for w in closed if w.camera_id == c] for c in (1, 2)}
    assert [w.n_frames for w in by_camera[1]] == [4, 4]  # 2 s of camera 1 (a frame per 0.5 s)
    assert [(w.first_offset, w.last_offset) for w in by_camera[1]] == [(0, 6), (8, 14)]
    assert by_camera[1][1].context_offset == 4  # the last 2 frames of the previous window
    assert dispatcher.stats == {"records": 20, "windows": 0, "requeued": 0, "unattributed": 0}
    assert windower.safe_position() == 16  # camera 1's open window starts there


def test_keyless_records_are_counted_and_skipped_not_fatal() -> None:
    dispatcher, windower = _dispatcher()
    meta = FrameMeta(1, 0, T0, T0).to_headers()
    records = [_record(0, None, meta), _record(1, b"lobby", meta), _frame(2, 1, T0)]
    assert dispatcher.cut(windower, records, now=0.0) == []
    assert dispatcher.stats["unattributed"] == 2 and dispatcher.stats["records"] == 3
    assert windower.flush_all()[0].first_offset == 2  # the good record still counts


def test_poison_headers_are_windowed_by_arrival_time() -> None:
    dispatcher, _ = _dispatcher()
    before = time.time()
    camera, captured_at = dispatcher._attribute(_record(0, b"4", [("cam", b"4")]))
    assert camera == 4 and before <= captured_at <= time.time()
    assert dispatcher._attribute(_frame(1, 4, T0 + 3)) == (4, T0 + 3)


def test_end_of_stream_closes_the_cameras_window_at_once() -> None:
    dispatcher, windower = _dispatcher()
    records = [_frame(0, 1, T0), _frame(1, 1, T0 + 0.1)]
    records.append(_record(2, b"1", end_of_stream_headers(1, T0 + 0.2, T0 + 0.2)))
    [last] = dispatcher.cut(windower, records, now=0.0)
    assert (last.first_offset, last.last_offset, last.n_frames) == (0, 1, 2)
    assert last.end_of_stream and windower.flush_all() == []
    assert windower.snapshot()[0] == {"1": 2}  # the marker is past: never windowed again
