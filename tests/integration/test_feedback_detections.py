"""A false alarm teaches the object model from the detections the worker stored when it scored the
incident (issue 20: the update in seconds), on the real stack: real Ped2 frames in real Kafka,
the real worker with the default detector's real weights on PostgreSQL, the real feedback path.
When the stored detections are gone the detector runs again, and learns about the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from db import camera_queries, model_registry, window_queries
from db.embeddings import FrameDetections
from db.models import Incident, Window
from db.session import transaction
from feedback.verdicts import give_feedback, undo_feedback
from frames.admin import ensure_topic
from frames.producer import FrameProducer
from frames.reader import FrameReader
from frames.record import FrameMeta
from tests.support.real_models import exported
from vad.codec import encode_jpeg
from vad.eval.stage1 import Stage1, installed_encoders
from vad.scoring.object_normality import ObjectNormalityModel
from vad.video import iter_video_frames
from workers.tasks import WindowScorer, WindowTask

pytestmark = [pytest.mark.integration, pytest.mark.real_weights]

NAME = "ssd-mobilenetv2-oidv4"  # the default detector
T0 = 1_767_225_600.0
FPS = 10
PER_WINDOW = 10


def _frames(path: Path, count: int):
    return [f for _, f in zip(range(count), iter_video_frames(path), strict=False)]


def _settings(pipeline, model_dir: Path):
    encoders = pipeline.settings.encoders.model_copy(update={"detector": NAME})
    return pipeline.settings.model_copy(update={"model_dir": model_dir, "encoders": encoders})


def _learned_camera(settings, sessions, ped2: Path) -> int:
    """Camera 'gate' with a model v1 (pixel, velocity, objects) fitted on two training clips."""
    stage1 = Stage1(settings, installed_encoders(settings))
    stage1.fit(_frames(p, 120) for p in sorted((ped2 / "train").glob("*.mp4"))[:2])
    assert stage1.objects is not None, "the detector should be installed"
    folder = settings.model_dir / "normality" / "gate" / "v1"
    for model in (stage1.pixel, stage1.velocity, stage1.objects):
        model.save(folder)
    with transaction(sessions) as session:
        camera = camera_queries.add_camera(session, "gate", "a.mp4", FPS, False, enabled=False)
        camera.threshold = 0.0  # every frame counts: the three windows make one incident
        model_registry.register_model(session, camera.id, 1, str(folder), 240, "test", {})
        return camera.id


def _scored_windows(pipeline, settings, camera_id: int, ped2: Path, reader) -> None:
    """Thirty frames of a test clip through Kafka and the worker, in three windows."""
    topic = settings.kafka_topic
    topic_id = ensure_topic(settings.kafka_bootstrap, topic, settings.kafka_partitions)
    producer = FrameProducer(settings.kafka_bootstrap, topic)
    try:
        sent = [
            producer.send(
                camera_id,
                encode_jpeg(frame),
                FrameMeta(camera_id, i, T0 + i / FPS, T0 + i / FPS).to_headers(),
            ).get(timeout=30)
            for i, frame in enumerate(_frames(ped2 / "test" / "test_01.mp4", 3 * PER_WINDOW))
        ]
    finally:
        producer.close()
    partition, offsets = sent[0].partition, [r.offset for r in sent]
    assert {r.partition for r in sent} == {partition}
    with transaction(pipeline.sessions) as session:
        for w in range(3):
            first, last = offsets[w * PER_WINDOW], offsets[(w + 1) * PER_WINDOW - 1]
            window_queries.insert_window(
                session, camera_id=camera_id, topic=topic, topic_id=topic_id,
                partition=partition, first_offset=first, last_offset=last,
                context_offset=offsets[w * PER_WINDOW - 4] if w else None, n_frames=PER_WINDOW,
                start_at=T0 + w, end_at=T0 + w + 0.9, end_of_stream=w == 2,
            )  # fmt: skip
    scorer = WindowScorer(settings, pipeline.sessions, reader)
    with pipeline.sessions() as session:
        windows = session.query(Window).order_by(Window.seq).all()
    for window in windows:
        assert scorer.run(WindowTask.of(window)) == "scored"


def test_a_false_alarm_teaches_the_object_model_the_stored_detections(
    pipeline, ped2, tmp_path
) -> None:
    model_dir = tmp_path / "models"
    exported(NAME, model_dir)
    settings = _settings(pipeline, model_dir)
    camera_id = _learned_camera(settings, pipeline.sessions, ped2)
    reader = FrameReader(settings.kafka_bootstrap)
    try:
        _scored_windows(pipeline, settings, camera_id, ped2, reader)
        with pipeline.sessions() as session:
            incident = session.query(Incident).one().id
            stored = session.query(FrameDetections).count()
        assert stored == 3 * PER_WINDOW

        taught = give_feedback(
            pipeline.sessions, settings, reader, incident, "false_alarm", None, "op"
        )
        objects = next(line for line in taught.lines if line.startswith("objects:"))
        assert "(stored outputs)" in objects, taught.lines
        v2 = ObjectNormalityModel.load(settings.model_dir / "normality" / "gate" / "v2")
        learned = v2.metadata["frames_added"]  # the incident's windows and look-back frames
        assert learned >= 2 * PER_WINDOW and objects.startswith(f"objects: +{learned} frames")
        assert f"pixel: +{learned} frames" in " ".join(taught.lines)

        # Without the stored detections the detector runs again on the same frames.
        undo_feedback(pipeline.sessions, incident)
        with transaction(pipeline.sessions) as session:
            session.query(FrameDetections).delete()
        again = give_feedback(
            pipeline.sessions, settings, reader, incident, "false_alarm", None, "op"
        )
    finally:
        reader.close()
    objects = next(line for line in again.lines if line.startswith("objects:"))
    assert objects.startswith(f"objects: +{learned} frames") and "stored" not in objects
    v3 = ObjectNormalityModel.load(settings.model_dir / "normality" / "gate" / "v3")
    # About the same detections, found again (the worker picks key frames per window, the
    # update per clip, so a few frames reuse another key frame's boxes)
    assert set(v3.classes) == set(v2.classes)
    for name, memory in v3.classes.items():
        assert len(memory.boxes) == pytest.approx(len(v2.classes[name].boxes), rel=0.05), name
