"""The window task's pure parts: which frames are a window's and its context, a log that lost
frames failing the window, and the row written per frame. (Which records are a camera's frames,
and bad records as error frames: tests/unit/frames/test_window.py.)"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from db.models import Camera, Window
from frames.reader import LogRecord, WindowUnavailable
from frames.record import FrameMeta, end_of_stream_headers
from frames.window import LoggedFrame, camera_frames
from frames.window import window_frames as split_window
from service.settings import Settings
from vad.codec import encode_jpeg
from vad.scoring.base import Scorer
from vad.scoring.motion import MotionScorer
from vad.types import Frame, ScoreResult
from workers.encoding import EncodedWindow
from workers.settings import WorkerSettings
from workers.tasks import (
    WindowTask,
    _row,
    _stage1,
    _threshold,
    _until_clock_steps_back,
    use_opencv_threads,
)

CAMERA = 3
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def _jpeg(level: int) -> bytes:
    return encode_jpeg(np.full((16, 16, 3), level, np.uint8))


def _record(offset: int, camera: int = CAMERA, value: bytes | None = None) -> LogRecord:
    meta = FrameMeta(camera, offset, T0 + offset / 10, T0 + offset / 10 + 0.05)
    return LogRecord(offset, camera, value or _jpeg(offset), meta.to_headers())


def window_frames(window: Window, records: list[LogRecord], keep_context: int):
    """What the task does with the records of its read: this camera's frames, split."""
    logged: list[LoggedFrame] = list(camera_frames(records, window.camera_id))
    return split_window(window, logged, keep_context)


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
        LogRecord(6, CAMERA, b"", end_of_stream_headers(CAMERA, T0, T0)),
        _record(7),
    ]
    frames, context, ingested = window_frames(_window(2, 7, 4, context=0), records, 1)
    assert [f.offset for f in frames] == [2, 3, 5, 7]
    assert [f.offset for f in context] == [1]  # only the last `keep_context` of 0, 1
    assert all(f.camera_id == CAMERA and f.image is not None for f in frames + context)
    assert ingested[5] == pytest.approx(T0 + 0.55)
    assert window_frames(_window(2, 7, 4, context=0), records, 0)[1] == []


def test_a_log_that_lost_frames_fails_the_window_instead_of_scoring_others() -> None:
    records = [_record(o) for o in (10, 11)]
    with pytest.raises(WindowUnavailable, match="expects 3 frames .* found 2"):
        window_frames(_window(10, 12, 3), records, 0)


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


def test_each_app_runs_its_own_scorer_not_one_registered_before() -> None:
    """Celery's default `shared=True` let a later app pick an earlier app's closure at random
    (a whole-suite failure: the Kafka run's task used the tansu run's database)."""
    from types import SimpleNamespace

    from celery import Celery

    from workers.celery_app import SCORE_WINDOW
    from workers.tasks import register_tasks

    settings = SimpleNamespace(windows=SimpleNamespace(max_attempts=1))
    ran, names = [], [f"app{i}" for i in range(12)]  # set order: one of them lost, without the fix
    for name in names:
        app = Celery(name, set_as_current=False)
        app.conf.task_always_eager = True
        scorer = SimpleNamespace(settings=settings, run=lambda task, name=name: ran.append(name))
        register_tasks(app, scorer)
        app.tasks[SCORE_WINDOW].apply(args=(1, "topic", 0, 0, 9))
    assert ran == names


# --- look-ahead ----------------------------------------------------------------------------------


def _frame(offset: int, at: float) -> Frame:
    return Frame(CAMERA, offset, at, None, offset=offset)


def test_look_ahead_frames_stop_where_the_cameras_clock_steps_back() -> None:
    frames = [_frame(5, 10.1), _frame(6, 10.2), _frame(7, 9.0), _frame(8, 9.1)]
    assert [f.offset for f in _until_clock_steps_back(frames, 10.0)] == [5, 6]
    assert _until_clock_steps_back(frames, 10.15) == []
    assert [f.offset for f in _until_clock_steps_back(frames[2:], None)] == [7, 8]


def test_an_encoding_of_window_and_look_ahead_keeps_the_windows_rows_only() -> None:
    def rows(offsets):
        return [{"kafka_offset": o} for o in offsets]

    encoded = EncodedWindow(
        np.array([0.1, 0.2, 0.3, 0.4]),
        embeddings=rows([10, 11, 12, 13]),
        detections=rows([10, 12, 13]),
        zero_shot=rows([11, 13]),
        appearance=rows([13]),
        fired=["pixel", "velocity", "objects", "pixel"],
    )
    own = encoded.head(2, last_offset=11)
    np.testing.assert_array_equal(own.scores, [0.1, 0.2])
    assert own.fired == ["pixel", "velocity"]
    assert [r["kafka_offset"] for r in own.embeddings] == [10, 11]
    assert [r["kafka_offset"] for r in own.detections] == [10]
    assert [r["kafka_offset"] for r in own.zero_shot] == [11]
    assert own.appearance == []


def _clip(n: int) -> list[Frame]:
    rng = np.random.default_rng(4)
    return [
        Frame(CAMERA, i, T0 + i / 10, rng.integers(0, 255, (24, 32, 3), np.uint8), offset=i)
        for i in range(n)
    ]


class _Brightness(Scorer):
    """A stateless causal scorer: each frame's change of mean brightness since the one before."""

    name = "brightness"

    def score(self, frames, context=(), state=None) -> ScoreResult:
        means = [float(f.image.mean()) for f in [*context, *frames]]
        change = np.abs(np.diff([means[0], *means]))[len(context) :]
        return ScoreResult(change / 255, change, None, {"fired": ["brightness"] * len(frames)})


def test_a_stateless_scorer_scores_window_and_look_ahead_in_one_pass_as_separately() -> None:
    clip, scorer = _clip(30), _Brightness()
    own, joint = _stage1(scorer, clip[6:26], clip[:6], clip[26:28], None)
    np.testing.assert_array_equal(own.scores, scorer.score(clip[6:26], clip[:6]).scores)
    np.testing.assert_array_equal(joint.scores[20:], scorer.score(clip[26:28], clip[20:26]).scores)
    assert own.notes["fired"] == ["brightness"] * 20
    assert own.state is None and len(own.raw) == 20


def test_a_scorer_with_state_is_not_advanced_by_the_look_ahead_frames() -> None:
    clip, scorer = _clip(40), MotionScorer(Settings(_env_file=None).scoring)
    window, ahead = clip[1:21], clip[21:23]
    start = scorer.score(clip[:1]).state
    own, joint = _stage1(scorer, window, clip[:1], ahead, start)
    alone = scorer.score(window, clip[:1], start)
    np.testing.assert_array_equal(own.scores, alone.scores)
    assert own.state == alone.state  # what the next window starts from
    next_window = scorer.score(clip[21:40], window[-1:], alone.state)
    np.testing.assert_allclose(joint.scores[20:], next_window.scores[:2])
    assert _stage1(scorer, window, clip[:1], [], start)[0].state == alone.state


def test_a_worker_process_takes_its_opencv_threads_from_the_settings():
    before = cv2.getNumThreads()
    try:
        assert WorkerSettings().opencv_threads == 1
        cv2.setNumThreads(3)  # not 1 already, whatever this machine's core count
        use_opencv_threads(1)
        assert cv2.getNumThreads() == 1
        use_opencv_threads(0)  # 0 leaves OpenCV as it is (its own 0 would mean "sequential")
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)
