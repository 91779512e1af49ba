"""Bad input gets a clear message and the pipeline keeps running."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaProducer

from frames.record import FrameMeta
from tests.support.pipeline import Pipeline, wait_until

pytestmark = pytest.mark.integration


def test_invalid_urls_are_refused_with_a_reason(pipeline: Pipeline, tmp_path):
    bad_scheme = pipeline.vad("camera", "add", "x", "ftp://example.org/cam")
    assert bad_scheme.returncode == 2
    assert "ftp" in bad_scheme.stderr
    not_video = tmp_path / "notes.txt"
    not_video.write_text("this is not a video\n" * 50)
    refused = pipeline.vad("camera", "add", "y", str(not_video))
    assert refused.returncode == 2
    assert "not a video" in refused.stderr
    missing = pipeline.vad("camera", "add", "z", str(tmp_path / "nope.mp4"))
    assert missing.returncode == 2
    assert "nope.mp4" in missing.stderr
    assert pipeline.scalar("SELECT count(*) FROM cameras") == 0


def test_dead_camera_reports_reason_and_never_blocks_others(pipeline: Pipeline, ped2):
    dead_port = 1  # nothing listens there
    assert (
        pipeline.vad("camera", "add", "dead", f"rtsp://127.0.0.1:{dead_port}/cam").returncode == 0
    )
    assert (
        pipeline.vad("camera", "add", "nohost", "rtsp://no-such-camera.invalid/cam").returncode == 0
    )
    live = ped2 / "train" / "train_01.mp4"
    assert pipeline.vad("camera", "add", "file", str(live), "--loop", "--fps", "5").returncode == 0
    pipeline.start("ingest", "ingest")

    def status(name: str) -> tuple[str, str | None]:
        return tuple(
            pipeline.rows("SELECT status, status_reason FROM cameras WHERE name=:n", n=name)[0]
        )

    wait_until(
        lambda: status("dead")[0] in ("reconnecting", "offline"),
        90,
        lambda: f"dead camera reported ({status('dead')})\n{pipeline.logs()}",
    )
    assert "refused" in (status("dead")[1] or "")
    wait_until(
        lambda: "host" in (status("nohost")[1] or ""),
        90,
        lambda: f"unknown host reported ({status('nohost')})",
    )
    kept = lambda: pipeline.scalar("SELECT kept_frames FROM cameras WHERE name='file'")  # noqa: E731
    wait_until(lambda: kept() > 20, 90, "the healthy camera keeps flowing")
    wait_until(
        lambda: status("dead")[0] == "offline",
        90,
        lambda: f"dead camera offline after repeated failures ({status('dead')})",
    )
    listing = pipeline.vad("camera", "list").stdout
    assert "offline: connection refused" in listing


def test_poison_records_are_scored_as_errors_and_do_not_stall(pipeline: Pipeline, ped2):
    pipeline.start("dispatcher", "dispatcher")
    pipeline.start("worker", "worker", "--name", "w1")
    added = pipeline.vad("camera", "add", "cam", str(ped2 / "test" / "test_01.mp4"), "--disabled")
    assert added.returncode == 0, added.stderr
    camera_id = pipeline.scalar("SELECT id FROM cameras WHERE name='cam'")
    producer = KafkaProducer(bootstrap_servers=pipeline.endpoints.kafka_bootstrap, acks="all")
    topic = pipeline.settings.kafka_topic
    now = time.time()
    key = str(camera_id).encode()
    meta = FrameMeta(camera_id, 0, now, now)
    producer.send(topic, key=key, value=b"definitely not a jpeg", headers=meta.to_headers())
    producer.send(topic, key=key, value=b"\xff\xd8\xff truncated", headers=meta.to_headers())
    producer.send(topic, key=key, value=b"\xff\xd8 no headers", headers=[("cam", b"x")])
    producer.send(topic, key=None, value=b"no key at all")
    producer.flush()
    producer.close()
    replay = pipeline.vad(
        "replay",
        str(ped2 / "test" / "test_01.mp4"),
        "--camera",
        "cam",
        "--fast",
        "--timeout",
        "120",
    )
    assert replay.returncode == 0, replay.stderr + replay.stdout

    def errors():
        return pipeline.rows(
            "SELECT error FROM frame_scores WHERE camera_id=:c AND error IS NOT NULL", c=camera_id
        )

    wait_until(
        lambda: len(errors()) == 3,
        90,
        lambda: (
            f"3 error rows, got {errors()}\n"
            + str(
                pipeline.rows(
                    "SELECT seq, status, n_frames, first_offset, last_offset, "
                    "attempts, error FROM windows ORDER BY seq"
                )
            )
            + pipeline.logs()
        ),
    )
    errors = errors()
    assert any("not a decodable JPEG" in e.error for e in errors)
    assert any("header" in e.error for e in errors)
    scored = pipeline.scalar(
        "SELECT count(*) FROM frame_scores WHERE camera_id=:c AND score IS NOT NULL", c=camera_id
    )
    kept = pipeline.scalar("SELECT kept_frames FROM cameras WHERE id=:c", c=camera_id)
    assert scored == kept, "every real frame after the poison records was scored"
    assert pipeline.scalar("SELECT count(*) FROM windows WHERE status <> 'done'") == 0
