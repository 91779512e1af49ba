"""A window whose frames the log no longer has (an in-memory broker restarted, a topic
recreated: what a restarted worker meets in windows left from before) is retried, then failed
with its reason, and each step is one log line: an expected condition, not a traceback."""

from __future__ import annotations

import logging

import pytest

from db import camera_queries, window_queries
from db.models import Window
from db.session import transaction
from frames.reader import FrameReader
from workers.celery_app import SCORE_WINDOW, make_celery
from workers.tasks import WindowScorer, WindowTask, register_tasks

pytestmark = pytest.mark.integration

T0 = 1_767_225_600.0


def test_a_window_beyond_the_log_end_fails_in_one_line_per_attempt(pipeline, caplog) -> None:
    settings = pipeline.settings.model_copy(
        update={"encoders": pipeline.settings.encoders.model_copy(update={"enabled": False})}
    )
    with transaction(pipeline.sessions) as session:
        camera = camera_queries.add_camera(session, "gone", "file.mp4", 10, False, enabled=False)
        window = window_queries.insert_window(
            session, camera_id=camera.id, topic=settings.kafka_topic, topic_id="before",
            partition=0, first_offset=5000, last_offset=5009, context_offset=None, n_frames=10,
            start_at=T0, end_at=T0 + 1,
        )  # fmt: skip
        task = WindowTask.of(window)
    app = make_celery(settings, pipeline.endpoints)
    app.conf.task_always_eager = True  # the retries run here, one after the other
    reader = FrameReader(pipeline.endpoints.kafka_bootstrap)
    register_tasks(app, WindowScorer(settings, pipeline.sessions, reader))
    try:
        with caplog.at_level(logging.INFO, logger="workers"):
            app.tasks[SCORE_WINDOW].apply(args=task.args())
    finally:
        reader.close()

    with pipeline.sessions() as session:
        failed = session.get(Window, task.window_id)
    assert failed.status == "failed" and "not readable" in failed.error
    ours = [r for r in caplog.records if r.name.startswith("workers")]
    attempts = settings.windows.max_attempts
    retried = [r for r in ours if f"window {task.window_id} attempt" in r.getMessage()]
    gave_up = [r for r in ours if f"window {task.window_id} failed after" in r.getMessage()]
    assert len(retried) == attempts - 1 and len(gave_up) == 1
    assert "not readable" in gave_up[0].getMessage()  # the reason, in the one line
    assert all(r.exc_info is None for r in ours), [r.getMessage() for r in ours if r.exc_info]
