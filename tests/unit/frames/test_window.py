"""Which records are a camera's frames, and bad records as error frames: the pure half of
`read_window_frames` (the reading half is covered by the integration tests against Kafka)."""

from __future__ import annotations

import numpy as np

from frames.reader import LogRecord
from frames.record import FrameMeta, end_of_stream_headers
from frames.window import camera_frames
from vad.codec import encode_jpeg

CAMERA = 3
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def _jpeg(level: int) -> bytes:
    return encode_jpeg(np.full((16, 16, 3), level, np.uint8))


def _record(offset: int, camera: int | None = CAMERA, value: bytes | None = None) -> LogRecord:
    meta = FrameMeta(camera or 0, offset, T0 + offset / 10, T0 + offset / 10 + 0.05)
    return LogRecord(offset, camera, value or _jpeg(offset), meta.to_headers())


def test_only_this_cameras_frames_come_back_and_markers_are_skipped() -> None:
    records = [
        _record(0),
        _record(1, camera=9),  # another camera on the same partition
        _record(2, camera=None),  # a key that names no camera
        LogRecord(3, CAMERA, b"", end_of_stream_headers(CAMERA, T0, T0)),
        _record(4),
    ]
    logged = list(camera_frames(records, CAMERA))
    assert [f.frame.offset for f in logged] == [0, 4]
    assert all(f.frame.camera_id == CAMERA and f.frame.ok for f in logged)
    assert logged[1].ingested_at == T0 + 0.4 + 0.05 and logged[1].jpeg == records[4].value


def test_offsets_pick_frames_without_decoding_the_others() -> None:
    records = [_record(o) for o in range(5)] + [_record(5, value=b"not a jpeg")]
    logged = list(camera_frames(records, CAMERA, offsets={1, 3}))
    assert [f.frame.offset for f in logged] == [1, 3]


def test_bad_records_become_error_frames_at_the_last_good_time() -> None:
    records = [
        _record(0),
        LogRecord(1, CAMERA, _jpeg(1), [("cam", b"3")]),  # headers without index or times
        _record(2, value=b"\xff\xd8 not a jpeg"),
    ]
    logged = list(camera_frames(records, CAMERA))
    frames = [f.frame for f in logged]
    assert [f.offset for f in frames] == [0, 1, 2]
    assert frames[0].error is None and frames[0].image is not None
    assert frames[1].error and frames[1].image is None and frames[1].index == -1
    assert frames[1].captured_at == frames[0].captured_at == logged[1].ingested_at
    assert "not a decodable JPEG" in frames[2].error and frames[2].index == 2
