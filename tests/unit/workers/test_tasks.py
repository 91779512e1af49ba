"""The window task's pure parts: which records are a window's frames, how bad records become
error rows instead of failing the window, and the row written per frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from db.models import Camera, Window
from vad.codec import FrameMeta, encode_jpeg, end_of_stream_headers
from vad.config import Settings
from workers.kafka_log import LogRecord, WindowUnavailable
from workers.tasks import WindowTask, _decode, _row, _threshold, window_frames

CAMERA = 3
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def _jpeg(level: int) -> bytes:
    return encode_jpeg(np.full((16, 16, 3), level, np.uint8))


def _record(offset: int, camera: int = CAMERA, value: bytes | None = None) -> LogRecord:
    meta = FrameMeta(camera, offset, T0 + offset / 10, T0 + offset / 10 + 0.05)
    return LogRecord(offset, str(camera).encode(), value or _jpeg(offset), meta.to_headers())


def _window(first: int, last: int, n_frames: int, context: int | None = None) -> Window:
    return Window(
        id=1,
        camera_id=CAMERA,
        topic="frames",
        partition=0,
        first_offset=first,
        last_offset=last,
        context_offset=context,
        n_frames=n_frames,
    )


def test_window_frames_keep_only_this_cameras_frames_and_split_off_the_context() -> None:
    records = [_record(o) for o in range(0, 4)] + [
        _record(4, camera=9),  # another camera on the same partition
        _record(5),
        LogRecord(6, str(CAMERA).encode(), b"", end_of_stream_headers(CAMERA, T0, T0)),
        _record(7),
    ]
    frames, context, ingested = window_frames(_window(2, 7, 4, context=0), records, 1)
    assert [f.offset for f in frames] == [2, 3, 5, 7]
    assert [f.offset for f in context] == [1]  # only the last `keep_context` of 0, 1
    assert all(f.camera == str(CAMERA) and f.image is not None for f in frames + context)
    assert ingested[5] == pytest.approx(T0 + 0.55)
    assert window_frames(_window(2, 7, 4, context=0), records, 0)[1] == []


def test_a_log_that_lost_frames_fails_the_window_instead_of_scoring_others() -> None:
    records = [_record(o) for o in (10, 11)]
    with pytest.raises(WindowUnavailable, match="expects 3 frames .* found 2"):
        window_frames(_window(10, 12, 3), records, 0)


def test_bad_records_become_error_frames_at_the_last_good_time() -> None:
    records = [
        _record(0),
        LogRecord(1, b"3", _jpeg(1), [("cam", b"3")]),  # headers without index or times
        _record(2, value=b"\xff\xd8 not a jpeg"),
    ]
    frames, ingested = _decode("3", records)
    assert [f.offset for f in frames] == [0, 1, 2]
    assert frames[0].error is None and frames[0].image is not None
    assert frames[1].error and frames[1].image is None and frames[1].index == -1
    assert frames[1].captured_at == frames[0].captured_at == ingested[1]
    assert "not a decodable JPEG" in frames[2].error and frames[2].index == 2


def test_row_stores_missing_scores_as_null() -> None:
    frame = window_frames(_window(0, 0, 1), [_record(0)], 0)[0][0]
    row = _row(frame, math.nan, math.inf, T0 + 1, "pixel")
    assert row["score"] is None and row["raw"] is None and row["error"] is None
    assert row["fired"] is None  # nothing decided a frame that has no score
    assert row["kafka_offset"] == 0 and row["ingested_at"].timestamp() == T0 + 1
    scored = _row(frame, 0.7, 2.5, T0, "velocity")
    assert scored["score"] == 0.7 and scored["fired"] == "velocity"


def test_task_is_a_claim_check_and_threshold_falls_back_to_the_default() -> None:
    window = _window(5, 9, 5)
    task = WindowTask.of(window)
    assert task.args() == [1, "frames", 0, 5, 9] and WindowTask(*task.args()) == task
    settings = Settings(_env_file=None)
    assert _threshold(None, settings) == settings.incidents.default_threshold
    assert _threshold(Camera(threshold=0.8), settings) == 0.8
    assert _threshold(Camera(threshold=None), settings) == settings.incidents.default_threshold
