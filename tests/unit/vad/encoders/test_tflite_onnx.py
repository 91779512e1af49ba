"""vad's TFLite->ONNX converter: TensorFlow's SAME padding, clear refusals. Its output on the
real default detector is checked against the TFLite runtime in detectors/test_ssd.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from vad.encoders.runtime import ModelError
from vad.encoders.tflite_onnx import _same_pads, convert_tflite


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [(300, 3, 2, (0, 1)), (150, 3, 1, (1, 1)), (19, 3, 2, (1, 1)), (10, 1, 1, (0, 0))],
)
def test_same_padding_puts_the_odd_pixel_after(size, kernel, stride, expected) -> None:
    assert _same_pads(size, kernel, stride, 1) == expected


def test_a_file_that_is_not_tflite_is_refused_and_nothing_written(tmp_path: Path) -> None:
    bogus = tmp_path / "model.tflite"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError):
        convert_tflite(bogus, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_converted_default_detector_has_a_dynamic_batch(real_ssd_dir: Path) -> None:
    import onnx

    model = onnx.load(str(real_ssd_dir / "encoders" / "ssd-mobilenetv2-oidv4" / "model.onnx"))
    (graph_input,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert dims == ["batch", 300, 300, 3]
    ops = {node.op_type for node in model.graph.node}
    assert ops <= {"Transpose", "Conv", "Clip", "Relu", "Identity", "Add", "Reshape", "Concat"}
