"""The exported tiny YOLO in ONNX Runtime matches torch; post-processing maps boxes back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vad.encoders.detectors import Detector
from vad.encoders.detectors.yolo import YoloDetector, candidates, letterbox, preprocess


@pytest.fixture(scope="module")
def detector(tiny_yolo: Path) -> Detector:
    return Detector.load(tiny_yolo)


def test_onnx_matches_torch_on_ped2(detector, ped2_frames) -> None:
    import torch
    from ultralytics import YOLO

    assert isinstance(detector, YoloDetector)
    torch_model = YOLO(detector.manifest["source"]).model.fuse().eval()
    pixels, _ = preprocess(ped2_frames[:4], detector.image_size)
    with torch.no_grad():
        out = torch_model(torch.from_numpy(pixels))
    expected = (out[0] if isinstance(out, (list, tuple)) else out).numpy()
    got = detector.raw(pixels)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-3


def test_detect_returns_a_list_per_frame(detector, ped2_frames) -> None:
    result = detector.detect(ped2_frames[:3])
    assert len(result) == 3 and all(isinstance(r, list) for r in result)
    assert detector.providers[-1] == "CPUExecutionProvider"


def test_letterbox_and_candidates_map_boxes_back_to_the_frame() -> None:
    frame = np.zeros((240, 360, 3), np.uint8)
    canvas, lb = letterbox(frame, 160)
    assert canvas.shape == (160, 160, 3)
    # one confident "person" centred on the frame, half its width and height, in input pixels
    raw = np.zeros((4 + 2, 3), np.float32)
    w, h = 0.5 * 360 * lb.scale, 0.5 * 240 * lb.scale
    raw[:4, 0] = [80, 80, w, h]
    raw[4, 0] = 0.9
    raw[:4, 1] = [81, 80, w, h]
    raw[4, 1] = 0.8
    raw[5, 2] = 0.1  # under the confidence threshold
    boxes, scores, classes = candidates(raw, lb, conf=0.25)
    assert list(classes) == [0, 0] and scores[0] == pytest.approx(0.9)
    np.testing.assert_allclose(boxes[0], (0.25, 0.25, 0.75, 0.75), atol=0.01)
