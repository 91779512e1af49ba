"""The backbone on real parts.

RTSP camera -> ingest -> Kafka -> dispatcher -> Celery -> PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import pytest

from ingest.sources import VideoSource
from tests.support.pipeline import Pipeline, wait_until
from tests.support.requirements import missing
from tests.support.rtsp import RtspServer, rtsp_unavailable_reason

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rtsp_ok():
    reason = rtsp_unavailable_reason()
    if reason:
        missing(reason)


def camera_row(pipe: Pipeline, name: str):
    rows = pipe.rows(
        "SELECT id, status, status_reason, kept_frames, pruned_frames FROM cameras WHERE name=:n",
        n=name,
    )
    return rows[0] if rows else None


def assert_exactly_once(pipe: Pipeline, camera_id: int, kept: int) -> None:
    """Every kept frame has exactly one score row; windows are contiguous and in order."""
    scores = pipe.rows(
        "SELECT kafka_offset, count(*) FROM frame_scores WHERE camera_id=:c GROUP BY 1", c=camera_id
    )
    assert len(scores) == kept, f"{len(scores)} distinct scored frames for {kept} kept"
    assert all(count == 1 for _, count in scores), "a frame was scored twice"
    windows = pipe.rows(
        "SELECT w.seq, w.first_offset, w.last_offset, w.n_frames, w.status, w.start_at, "
        "(SELECT count(*) FROM frame_scores f WHERE f.window_id = w.id) "
        "FROM windows w WHERE camera_id=:c ORDER BY seq",
        c=camera_id,
    )
    assert [w.seq for w in windows] == list(range(len(windows))), "gap in window sequence"
    assert all(w.status == "done" for w in windows)
    assert all(w[6] == w.n_frames for w in windows), "window with missing score rows"
    for before, after in zip(windows, windows[1:], strict=False):
        assert before.last_offset < after.first_offset
        assert before.start_at < after.start_at


def test_rtsp_camera_every_kept_frame_scored_once(pipeline: Pipeline, ped2, rtsp_ok):
    with RtspServer(ped2 / "test" / "test_01.mp4") as server:
        added = pipeline.vad("camera", "add", "gate", server.url, "--fps", "5")
        assert added.returncode == 0, added.stderr
        pipeline.start("dispatcher", "dispatcher")
        pipeline.start("worker", "worker", "--name", "w1")
        ingest = pipeline.start("ingest", "ingest")
        wait_until(
            lambda: (camera_row(pipeline, "gate") or [0, ""])[1] == "online",
            90,
            lambda: "camera online\n" + pipeline.logs(),
        )
        wait_until(
            lambda: camera_row(pipeline, "gate").kept_frames >= 30,
            60,
            lambda: "30 kept frames\n" + pipeline.logs(),
        )
        ingest.terminate()
    row = camera_row(pipeline, "gate")
    assert row.status == "offline" and row.status_reason == "service stopped"
    wait_until(
        lambda: (
            pipeline.scalar("SELECT count(*) FROM frame_scores WHERE camera_id=:c", c=row.id)
            >= row.kept_frames
        ),
        60,
        lambda: "all kept frames scored\n" + pipeline.logs(),
    )
    assert_exactly_once(pipeline, row.id, row.kept_frames)
    listing = pipeline.vad("camera", "list")
    assert "gate" in listing.stdout and "offline: service stopped" in listing.stdout
    # ingest stored the rate the stream announced: a 10 fps source set to 5 is analysed at 5
    (listed,) = json.loads(pipeline.vad("camera", "list", "--json").stdout)
    assert (listed["source_fps"], listed["analysed_fps"]) == (10, 5), listed
    # ... and the rate its sampler applied, for SQL readers (Grafana): the same 5
    assert pipeline.scalar("SELECT analysed_fps FROM cameras WHERE id=:c", c=row.id) == 5


def test_worker_killed_mid_window_is_redone_once(pipeline: Pipeline, ped2):
    pipeline.start("dispatcher", "dispatcher")
    slow = pipeline.start(
        "worker", "worker", "--name", "slow", extra_env={"VAD_FAULTS__SCORE_DELAY_SECONDS": "30"}
    )
    replay = pipeline.vad(
        "replay", str(ped2 / "test" / "test_02.mp4"), "--camera", "lobby", "--fast", "--no-wait"
    )
    assert replay.returncode == 0, replay.stderr + replay.stdout
    camera_id = pipeline.scalar("SELECT id FROM cameras WHERE name='lobby'")
    kept = pipeline.scalar("SELECT kept_frames FROM cameras WHERE id=:c", c=camera_id)
    assert kept > 0
    running = wait_until(
        lambda: pipeline.scalar("SELECT id FROM windows WHERE status='running' LIMIT 1"),
        90,
        lambda: "a window in progress\n" + pipeline.logs(),
    )
    os.killpg(slow.process.pid, signal.SIGKILL)
    slow.process.wait()
    pipeline.start("worker", "worker", "--name", "fresh")
    wait_until(
        lambda: (
            pipeline.scalar(
                "SELECT count(*) FROM windows WHERE status <> 'done' AND camera_id=:c", c=camera_id
            )
            == 0
            and pipeline.scalar("SELECT count(*) FROM windows WHERE camera_id=:c", c=camera_id) > 0
        ),
        90,
        lambda: "every window scored after the kill\n" + pipeline.logs(),
    )
    wait_until(
        lambda: (
            pipeline.scalar("SELECT count(*) FROM frame_scores WHERE camera_id=:c", c=camera_id)
            == kept
        ),
        30,
        "all frames scored",
    )
    assert_exactly_once(pipeline, camera_id, kept)
    attempts = pipeline.scalar("SELECT attempts FROM windows WHERE id=:w", w=running)
    assert attempts >= 2, "the killed window was not redone"


def test_camera_reconnects_and_others_keep_flowing(pipeline: Pipeline, ped2, rtsp_ok):
    flaky = RtspServer(ped2 / "test" / "test_03.mp4")
    steady = RtspServer(ped2 / "test" / "test_05.mp4")
    with flaky, steady:
        assert pipeline.vad("camera", "add", "flaky", flaky.url, "--fps", "5").returncode == 0
        assert pipeline.vad("camera", "add", "steady", steady.url, "--fps", "5").returncode == 0
        pipeline.start("ingest", "ingest")
        for name in ("flaky", "steady"):
            wait_until(
                lambda n=name: camera_row(pipeline, n).status == "online",
                90,
                lambda n=name: f"{n} online\n" + pipeline.logs(),
            )
        flaky.stop()
        wait_until(
            lambda: camera_row(pipeline, "flaky").status in ("reconnecting", "offline"),
            90,
            lambda: "flaky reconnecting\n" + pipeline.logs(),
        )
        before = camera_row(pipeline, "steady").kept_frames
        wait_until(
            lambda: camera_row(pipeline, "steady").kept_frames >= before + 10,
            90,
            "the steady camera keeps flowing while the other reconnects",
        )
        flaky.start()
        wait_until(
            lambda: camera_row(pipeline, "flaky").status == "online",
            90,
            lambda: "flaky online again\n" + pipeline.logs(),
        )
        kept = camera_row(pipeline, "flaky").kept_frames
        wait_until(
            lambda: camera_row(pipeline, "flaky").kept_frames > kept,
            90,
            "frames flow after reconnect",
        )


LOOP_CLIP_FRAMES = 25


def _head_of(video: Path, target: Path, frames: int) -> Path:
    """The first `frames` frames of `video` as a clip of their own (one short pass)."""
    with VideoSource(str(video)) as source:
        images = [source.read().image for _ in range(frames)]
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for image in images:
        writer.write(image)
    writer.release()
    return target


def test_looping_file_camera_scores_each_pass_as_its_own_stream(pipeline: Pipeline, ped2, tmp_path):
    """The demo's looping camera: an incident open at the end of a pass closes there, and the
    first frame of the next pass is not compared with the last frame of the one before."""
    clip = _head_of(ped2 / "test" / "test_04.mp4", tmp_path / "loop.mp4", LOOP_CLIP_FRAMES)
    # threshold 0: an incident opens in every pass and only a pass end can close it
    added = pipeline.vad("camera", "add", "demo", str(clip), "--loop", "--threshold", "0")
    assert added.returncode == 0, added.stderr
    camera_id = pipeline.scalar("SELECT id FROM cameras WHERE name='demo'")
    pipeline.start("dispatcher", "dispatcher")
    pipeline.start("worker", "worker", "--name", "w1")
    ingest = pipeline.start(
        "ingest", "ingest", extra_env={"VAD_INGEST__PRUNE_CHANGED_FRACTION": "0"}
    )
    wait_until(
        lambda: (
            pipeline.scalar(
                "SELECT count(*) FROM incidents WHERE camera_id=:c AND status='closed'", c=camera_id
            )
            >= 2
        ),
        180,
        lambda: "two passes' incidents closed\n" + pipeline.logs(),
    )
    ingest.terminate()
    windows = pipeline.rows(
        "SELECT seq, context_offset, end_of_stream FROM windows WHERE camera_id=:c ORDER BY seq",
        c=camera_id,
    )
    after_end = [b for a, b in zip(windows, windows[1:], strict=False) if a.end_of_stream]
    assert after_end, windows
    assert all(w.context_offset is None for w in after_end), windows
    pass_starts = pipeline.rows(
        "SELECT frame_index, raw FROM frame_scores WHERE camera_id=:c AND frame_index >= :n "
        "AND frame_index % :n = 0 ORDER BY frame_index",
        c=camera_id,
        n=LOOP_CLIP_FRAMES,
    )
    assert pass_starts, "no pass after the first was scored"
    assert all(row.raw == 0.0 for row in pass_starts), pass_starts  # no motion from the jump
    closed = pipeline.rows(
        "SELECT i.id, w.end_of_stream FROM incidents i JOIN windows w ON w.camera_id = i.camera_id"
        " AND w.seq = i.last_window_seq WHERE i.camera_id=:c AND i.status='closed'",
        c=camera_id,
    )
    assert closed and all(row.end_of_stream for row in closed), closed


def test_look_ahead_windows_wait_for_the_next_frames_and_score_each_frame_once(
    pipeline: Pipeline, ped2
):
    """`scoring.look_ahead_seconds`: each window is cut as before, waits for the frames of the
    next 0.3 s (`ahead_offset`), and its scores are stored for its own frames only, once."""
    ahead = {"VAD_SCORING__LOOK_AHEAD_SECONDS": "0.3"}
    pipeline.start("dispatcher", "dispatcher", extra_env=ahead)
    pipeline.start("worker", "worker", "--name", "w1", extra_env=ahead)
    replay = pipeline.vad(
        "replay", str(ped2 / "test" / "test_02.mp4"), "--camera", "lobby", "--fast", "--no-wait"
    )
    assert replay.returncode == 0, replay.stderr + replay.stdout
    camera_id = pipeline.scalar("SELECT id FROM cameras WHERE name='lobby'")
    kept = pipeline.scalar("SELECT kept_frames FROM cameras WHERE id=:c", c=camera_id)
    wait_until(
        lambda: (
            pipeline.scalar("SELECT count(*) FROM frame_scores WHERE camera_id=:c", c=camera_id)
            == kept
            and pipeline.scalar(
                "SELECT count(*) FROM windows WHERE status <> 'done' AND camera_id=:c", c=camera_id
            )
            == 0
        ),
        120,
        lambda: "every frame scored with look-ahead\n" + pipeline.logs(),
    )
    assert_exactly_once(pipeline, camera_id, kept)
    windows = pipeline.rows(
        "SELECT first_offset, last_offset, ahead_offset, end_at, end_of_stream FROM windows "
        "WHERE camera_id=:c ORDER BY seq",
        c=camera_id,
    )
    assert len(windows) >= 3, windows
    for window, after in zip(windows, windows[1:], strict=False):
        # the next window's first frames, at least 0.3 s of them (10 fps: 3 frames)
        assert after.first_offset <= window.ahead_offset <= after.last_offset, (window, after)
        seen = pipeline.scalar(
            "SELECT max(captured_at) FROM frame_scores WHERE camera_id=:c AND kafka_offset<=:o",
            c=camera_id,
            o=window.ahead_offset,
        )
        assert (seen - window.end_at).total_seconds() >= 0.3 - 1e-3, (window, seen)
    assert windows[-1].ahead_offset is None and windows[-1].end_of_stream
    scores = pipeline.rows(
        "SELECT score FROM frame_scores WHERE camera_id=:c AND error IS NULL", c=camera_id
    )
    assert scores and all(row.score is not None for row in scores)
