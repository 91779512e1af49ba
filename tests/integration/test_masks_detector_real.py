"""A mask hides objects from everything that runs the detector (issue 20), with the default
detector's real weights on real Ped2 frames and the real database: the masked detector keeps
exactly the detections the mask does not cover, and the learn recorder (object model, scene
norms) and stage 2's scene descriptions run it blind to the camera's mask, as the worker does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from db import camera_queries, regions
from db.session import transaction
from service.learn import object_recorder
from vad.encoders.detectors import Detector
from vad.masks import RegionMask
from vad.video import iter_video_frames
from workers.stage2 import SceneDescriber

pytestmark = [
    pytest.mark.integration,
    pytest.mark.real_weights,
    pytest.mark.embedded_broker_only("database-only: frames come from the footage, not the broker"),
]

NAME = "ssd-mobilenetv2-oidv4"  # the default detector
LEFT = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
EVERYWHERE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


@pytest.fixture(scope="module")
def model_dir(real_ssd_dir: Path) -> Path:
    """The session's export of the default detector (`tests/conftest.py`)."""
    return real_ssd_dir


@pytest.fixture(scope="module")
def frames(ped2: Path) -> list[np.ndarray]:
    found = iter_video_frames(ped2 / "test" / "test_01.mp4")
    return [frame for _, frame in zip(range(24), found, strict=False)]


NOTHING = [(0.0, "no person or object is detected")]


def _settings(pipeline, model_dir: Path):
    encoders = pipeline.settings.encoders.model_copy(update={"detector": NAME})
    return pipeline.settings.model_copy(update={"model_dir": model_dir, "encoders": encoders})


def test_the_masked_detector_drops_what_the_mask_covers(pipeline, model_dir, frames) -> None:
    detector = Detector.installed(model_dir, _settings(pipeline, model_dir).encoders)
    assert detector is not None
    plain = detector.detect(frames)
    assert sum(len(f) for f in plain) > 10, "Ped2's walkers should be detected"
    left = RegionMask((LEFT,))
    masked = left.hide_from(detector)
    assert masked.name == detector.name and masked.batch_size == detector.batch_size
    kept = masked.detect(frames)
    for before, after in zip(plain, kept, strict=True):
        assert after == [d for d in before if not left.covers_box(d.box)]
    assert sum(len(f) for f in kept) < sum(len(f) for f in plain)
    assert RegionMask().hide_from(detector) is detector  # nothing masked: the detector itself


def test_learning_and_scene_descriptions_do_not_see_masked_objects(
    pipeline, model_dir, frames
) -> None:
    settings = _settings(pipeline, model_dir)
    hidden = RegionMask((EVERYWHERE,))
    recorder, note = object_recorder(settings, hidden)
    assert recorder is not None, note
    assert recorder.run(frames[:8]) == [[] for _ in range(8)]
    seen, _ = object_recorder(settings)
    assert any(seen.run(frames[:8]))

    with transaction(pipeline.sessions) as session:
        masked = camera_queries.add_camera(session, "masked", "a.mp4", 10, False, enabled=False)
        plain = camera_queries.add_camera(session, "plain", "b.mp4", 10, False, enabled=False)
        regions.add_region(session, masked.id, "mask", EVERYWHERE)
        ids = masked.id, plain.id
    detector = Detector.installed(model_dir, settings.encoders)
    scene = SceneDescriber(detector, pipeline.sessions)
    times = [i / 10 for i in range(len(frames))]
    assert scene.describe(ids[1], times, frames) != NOTHING, "the walkers are described"
    assert scene.describe(ids[0], times, frames) == NOTHING
