"""The worker's encoder hook without a database: with no model installed it changes nothing, and
with only a detector it reports every decodable frame and leaves the scores to the object model
(none here), so undecodable frames keep no score."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from service.settings import Settings
from vad.types import Frame
from workers.encoding import FrameEncoding


def _frames(images: list[np.ndarray | None]) -> list[Frame]:
    return [
        Frame(7, i, 1000.0 + i, image, offset=10 + i, error=None if image is not None else "bad")
        for i, image in enumerate(images)
    ]


def test_without_models_stage_one_scores_pass_through_untouched(tmp_path: Path) -> None:
    encoding = FrameEncoding(Settings(_env_file=None, model_dir=tmp_path), sessions=None)
    assert not encoding.active
    stage1 = np.array([0.2, np.nan, 0.9])
    frames = _frames([np.zeros((8, 8, 3), np.uint8), None, np.zeros((8, 8, 3), np.uint8)])
    encoded = encoding.encode(7, frames, stage1)
    np.testing.assert_array_equal(encoded.scores, stage1)
    assert encoded.scores is not stage1  # the caller's array is never written
    assert encoded.embeddings == encoded.detections == encoded.zero_shot == []
    # `annotate` reads which model decided the peak from `frame_scores.fired` (the pixel or
    # velocity model decides even without encoders): covered over PostgreSQL in
    # tests/integration/test_encoders_db.py and test_learn_replay.py.


@pytest.fixture(scope="module")
def tiny_yolo(tmp_path_factory) -> Path:
    from tests.support.tiny_models import need_export_extra, tiny_yolo_dir

    need_export_extra("torch", "ultralytics")
    return tiny_yolo_dir(tmp_path_factory.mktemp("models"))


def test_detector_alone_reports_decodable_frames_and_keeps_scores(tmp_path, tiny_yolo) -> None:
    settings = Settings(
        _env_file=None,
        model_dir=tmp_path,
        encoders={"detector": "tiny-yolo", "store_embeddings": False},
        zero_shot={"enabled": False},
        objects={"enabled": False},
        appearance={"enabled": False},
    )
    shutil.copytree(tiny_yolo, tmp_path / "encoders" / "tiny-yolo")
    encoding = FrameEncoding(settings, sessions=None)  # no model reads the database here
    assert encoding.detector is not None and encoding.clip is None and encoding.objects is None
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (120, 160, 3), np.uint8) for _ in range(3)]
    stage1 = np.array([0.1, np.nan, 0.4, 0.3])
    encoded = encoding.encode(7, _frames([images[0], None, images[1], images[2]]), stage1)
    assert [row["kafka_offset"] for row in encoded.detections] == [10, 12, 13]
    assert all(
        row["model"] == "tiny-yolo" and row["object_score"] is None for row in encoded.detections
    )
    assert not any(row["object_fired"] for row in encoded.detections)
    np.testing.assert_array_equal(encoded.scores, stage1)
