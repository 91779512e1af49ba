"""MediaPipe's SSD-MobileNetV2 (Open Images v4): anchors, box decoding, and the real model
converted by vad's TFLite->ONNX converter against the original TFLite runtime on Ped2 frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vad.encoders.detectors import Detector
from vad.encoders.detectors.ssd import AnchorSpec, BoxCoder, SsdDetector, generate_anchors
from vad.encoders.export_tflite import MEDIAPIPE_OIDV4_ANCHORS
from vad.encoders.registry import SSD_OIDV4

SPEC = AnchorSpec.from_manifest(MEDIAPIPE_OIDV4_ANCHORS)


def test_anchor_generator_gives_mediapipes_1917_anchors() -> None:
    anchors = generate_anchors(SPEC)
    # 19x19 cells x 3 (reduced lowest layer) + (10x10 + 5x5 + 3x3 + 2x2 + 1x1) x 6
    assert anchors.shape == (1917, 4) == (19 * 19 * 3 + (100 + 25 + 9 + 4 + 1) * 6, 4)
    first = anchors[:3]  # cell (0, 0) of the 19x19 layer: scale 0.1 square, then 0.2 at 2:1, 1:2
    np.testing.assert_allclose(first[:, :2], 0.5 / 19, rtol=1e-6)
    np.testing.assert_allclose(first[0, 2:], (0.1, 0.1), rtol=1e-6)
    np.testing.assert_allclose(first[1, 2:], (0.2 / np.sqrt(2), 0.2 * np.sqrt(2)), rtol=1e-6)
    last = anchors[-1]  # the 1x1 layer's interpolated anchor: sqrt(0.95 * 1.0), centred
    np.testing.assert_allclose(last, (0.5, 0.5, np.sqrt(0.95), np.sqrt(0.95)), rtol=1e-6)


def test_box_coder_decodes_offsets_relative_to_the_anchor() -> None:
    anchor = np.array([[0.5, 0.25, 0.2, 0.1]], np.float32)  # yc, xc, h, w
    assert np.allclose(BoxCoder().decode(np.zeros((1, 4)), anchor), [[0.2, 0.4, 0.3, 0.6]])
    # +1 anchor height down (raw 10), twice as wide (raw 5 ln 2)
    raw = np.array([[10.0, 0.0, 0.0, 5 * np.log(2)]])
    assert np.allclose(BoxCoder().decode(raw, anchor), [[0.15, 0.6, 0.35, 0.8]])


def test_preprocess_is_bit_for_bit_the_expression_with_temporaries() -> None:
    """The batch written in place (speed round 3) holds exactly what `(rgb - mean) / std` gave,
    for colour and grey frames of several sizes and the manifest's default mean and std."""
    import cv2

    detector = object.__new__(SsdDetector)  # preprocess needs no session
    detector.image_size, detector.mean, detector.std = 300, np.float32(127.5), np.float32(127.5)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, shape, np.uint8) for shape in [(240, 360, 3), (158, 238, 3)]]
    frames.append(rng.integers(0, 256, (120, 160), np.uint8))
    got, _ = detector.preprocess(frames)
    for image, pixels in zip(frames, got, strict=True):
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
        resized = cv2.resize(bgr, (300, 300), interpolation=cv2.INTER_LINEAR)
        expected = (resized[..., ::-1] - detector.mean) / detector.std
        assert expected.dtype == pixels.dtype == np.float32
        assert np.array_equal(pixels, expected)


@pytest.fixture(scope="module")
def ssd(real_ssd_dir: Path) -> SsdDetector:
    detector = Detector.load(real_ssd_dir / "encoders" / SSD_OIDV4, confidence=0.3)
    assert isinstance(detector, SsdDetector)
    return detector


def test_converted_graph_matches_the_tflite_runtime_on_ped2(ssd, real_ssd_dir, ped2_frames) -> None:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tests.support.requirements import missing

        missing("ai-edge-litert (the `dev` extra), the TFLite runtime the conversion is checked on")

    tflite = next((real_ssd_dir / "downloads" / SSD_OIDV4).glob("*.tflite"))
    interpreter = Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    outputs = sorted(interpreter.get_output_details(), key=lambda o: o["shape"][-1])  # boxes 1st
    pixels, _ = ssd.preprocess(ped2_frames[:6])
    boxes, logits = ssd.outputs(pixels)  # the whole batch at once: the batch axis is dynamic
    for i in range(len(pixels)):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels[i : i + 1])
        interpreter.invoke()
        want_boxes, want_logits = (interpreter.get_tensor(o["index"])[0] for o in outputs)
        assert np.abs(boxes[i] - want_boxes).max() < 1e-3
        assert np.abs(logits[i] - want_logits).max() < 1e-3


def test_finds_the_people_and_the_cart_of_ped2_test_04(ssd, ped2: Path) -> None:
    from vad.video import iter_video_frames

    frames = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    found = ssd.detect([frames[i] for i in (5, 80, 150)])
    labels = [{d.class_name for d in frame} for frame in found]
    assert all("person" in frame for frame in labels)
    assert "vehicle" not in labels[0]  # the cart enters at about frame 30
    assert "vehicle" in labels[1] and "vehicle" in labels[2]
    people = [d for d in found[0] if d.class_name == "person"]
    for d in people:  # upright people: taller than wide, inside the frame
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and (y2 - y1) * 240 > (x2 - x1) * 360


def test_ignored_labels_never_win_a_box(real_ssd_dir: Path, ped2_frames) -> None:
    folder = real_ssd_dir / "encoders" / SSD_OIDV4
    plain = Detector.load(folder, confidence=0.25).detect(ped2_frames)
    quiet = Detector.load(folder, confidence=0.25, ignore=("footwear",)).detect(ped2_frames)
    assert any(d.class_name == "footwear" for frame in plain for d in frame)
    assert not any(d.class_name == "footwear" for frame in quiet for d in frame)
    assert all(d.source_label != "Footwear" for frame in quiet for d in frame)


def test_settings_refuse_ignoring_a_label_outside_the_vocabulary() -> None:
    from pydantic import ValidationError

    from vad.encoders.config import EncoderConfig

    assert EncoderConfig().detector_ignore == ("footwear",)
    with pytest.raises(ValidationError, match="shared vocabulary"):
        EncoderConfig(detector_ignore=("Footwear",))


def test_anchor_parameters_that_do_not_fit_the_graph_are_refused(real_ssd_dir, tmp_path) -> None:
    import json
    import shutil

    from vad.encoders.runtime import ModelCorrupt

    folder = tmp_path / SSD_OIDV4
    shutil.copytree(real_ssd_dir / "encoders" / SSD_OIDV4, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["anchors"]["strides"] = manifest["anchors"]["strides"][:-1]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelCorrupt, match="predicts 1917 boxes"):
        Detector.load(folder)
