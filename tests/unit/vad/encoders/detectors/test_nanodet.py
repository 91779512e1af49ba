"""NanoDet's decoding in numpy: cell centres, the softmax integral of the box distributions, and
a whole detector on a small ONNX graph whose outputs are written here (the real model is checked
against TF.js's runtime in tests/integration/test_nanodet_real.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vad.encoders.detectors import Detector
from vad.encoders.detectors.nanodet import (
    Level,
    NanoDetDetector,
    cell_centres,
    distances,
    level_boxes,
)
from vad.encoders.export_nanodet import BGR_MEAN, BGR_STD, COCO_CLASSES, output_levels
from vad.encoders.runtime import ModelError

SIZE, BINS = 32, 8


def one_hot(bin_: int, bins: int = BINS) -> np.ndarray:
    """Logits whose softmax is (almost) all on `bin_`."""
    logits = np.full(bins, -50.0, np.float32)
    logits[bin_] = 50.0
    return logits


def test_cell_centres_are_row_major_half_cell_offsets() -> None:
    centres = cell_centres(32, 8)
    assert centres.shape == (16, 2)
    assert centres[0].tolist() == [4, 4] and centres[1].tolist() == [12, 4]  # x moves first
    assert centres[4].tolist() == [4, 12] and centres[-1].tolist() == [28, 28]


def test_distances_are_the_expectation_of_the_softmax() -> None:
    sides = np.concatenate([one_hot(0), one_hot(3), one_hot(7), np.zeros(BINS, np.float32)])
    got = distances(sides[None], BINS)[0]
    assert np.allclose(got, [0, 3, 7, (BINS - 1) / 2], atol=1e-4)  # uniform: the middle bin


def test_level_boxes_measure_from_the_cell_centre_in_strides() -> None:
    level = Level(8, cell_centres(SIZE, 8)[5:6], BINS)  # cell (row 1, col 1): centre (12, 12)
    logits = np.concatenate([one_hot(1), one_hot(0), one_hot(2), one_hot(3)])[None]
    box = level_boxes(logits, level, SIZE)[0]
    assert np.allclose(box * SIZE, [12 - 8, 12 - 0, 12 + 16, 12 + 24], atol=1e-3)


def test_outputs_are_matched_to_levels_by_shape() -> None:
    outputs = {"Identity": [1, 16, 80], "Identity_3": [1, 16, 32], "Identity_1": [1, 4, 80],
               "Identity_4": [1, 4, 32], "Identity_2": [1, 1, 80],
               "Identity_5": [1, 1, 32]}  # fmt: skip
    levels = output_levels(outputs, SIZE, 80)
    assert [(lv["stride"], lv["scores"], lv["boxes"], lv["bins"]) for lv in levels] == [
        (8, "Identity", "Identity_3", 8), (16, "Identity_1", "Identity_4", 8),
        (32, "Identity_2", "Identity_5", 8),
    ]  # fmt: skip
    del outputs["Identity_5"]
    with pytest.raises(ModelError, match="stride 32"):
        output_levels(outputs, SIZE, 80)


def _constant_graph(folder: Path, values: dict[str, np.ndarray]) -> None:
    """model.onnx: a (1, 3, SIZE, SIZE) input and the given constant outputs."""
    nodes = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name + "_v"))
        for name, value in values.items()
    ]
    graph = helper.make_graph(
        nodes, "nanodet", [helper.make_tensor_value_info("input_1", TensorProto.FLOAT,
                                                         [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape))
         for n, v in values.items()],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "model.onnx"))


@pytest.fixture
def detector(tmp_path: Path) -> NanoDetDetector:
    """Scores: a bicycle (0.9) and, overlapping it, a weaker bicycle (0.5) on stride 8, a
    person (0.6) on stride 32; everything else 0.01."""
    names = {8: ("s8", "b8"), 16: ("s16", "b16"), 32: ("s32", "b32")}
    values = {}
    for stride, (s, b) in names.items():
        cells = (SIZE // stride) ** 2
        values[s] = np.full((1, cells, 80), 0.01, np.float32)
        values[b] = np.tile(np.concatenate([one_hot(1)] * 4), (1, cells, 1))
    bicycle, person = COCO_CLASSES.index("bicycle"), COCO_CLASSES.index("person")
    values["s8"][0, 5, bicycle] = 0.9  # centre (12, 12), 8 px each side: (4, 4, 20, 20)
    values["s8"][0, 6, bicycle] = 0.5  # centre (20, 12): (12, 4, 28, 20), IoU 1/3 with it
    values["s32"][0, 0, person] = 0.6  # centre (16, 16), 32 px each side: the whole frame
    _constant_graph(tmp_path, values)
    manifest = {
        "kind": "detector", "name": "nanodet", "family": "nanodet", "taxonomy": "coco",
        "image_size": SIZE, "classes": list(COCO_CLASSES), "mean": BGR_MEAN, "std": BGR_STD,
        "levels": [{"stride": s, "scores": n[0], "boxes": n[1], "bins": BINS}
                   for s, n in names.items()],
        "files": {"model": "model.onnx"},
    }  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    found = Detector.load(tmp_path, confidence=0.3, iou=0.3)
    assert isinstance(found, NanoDetDetector)
    return found


def test_a_detector_decodes_every_level_into_frame_fractions(detector) -> None:
    frame = np.zeros((64, 96, 3), np.uint8)  # not square: boxes are fractions of the frame
    (found,) = detector.detect([frame])
    assert [(d.class_name, round(d.confidence, 2)) for d in found] == [
        ("bicycle", 0.9), ("person", 0.6),
    ]  # the weaker overlapping bicycle (IoU 1/3 > 0.3) is suppressed  # fmt: skip
    assert np.allclose(found[0].box, np.array([4, 4, 20, 20]) / SIZE, atol=1e-3)
    assert np.allclose(found[1].box, [0, 0, 1, 1])  # clipped to the frame
    assert found[0].source_label == "bicycle"


def test_ignored_classes_never_win(detector) -> None:
    detector.ignored = np.array([label == "bicycle" for label in detector.labels])
    (found,) = detector.detect([np.zeros((32, 32, 3), np.uint8)])
    assert [d.class_name for d in found] == ["person"]


def test_preprocess_normalises_bgr_with_nanodets_mean_and_std(detector) -> None:
    frame = np.zeros((10, 20, 3), np.uint8)
    frame[..., 0] = 255  # blue
    pixels, _ = detector.preprocess([frame, frame[..., 0]])  # colour and grey
    assert pixels.shape == (2, 3, SIZE, SIZE) and pixels.dtype == np.float32
    assert np.allclose(pixels[0, :, 0, 0], (np.array([255, 0, 0]) - BGR_MEAN) / BGR_STD)
    assert np.allclose(pixels[1, :, 0, 0], (255 - np.array(BGR_MEAN)) / BGR_STD)
