"""The TF.js-graph-to-ONNX converter on small graphs written here, against numpy computations of
what TensorFlow's ops mean (SAME padding with the extra pixel at the end, depthwise channel
order, float16-quantised weights, floor division of negative integers, gather_nd). MoveNet itself
is compared with TF.js's own runtime in tests/integration/test_pose_real.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from vad.encoders.tfjs import TfjsError, convert

RNG = np.random.default_rng(0)


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _write(folder: Path, nodes: list[dict], weights: dict[str, np.ndarray], half=()) -> Path:
    """model.json + one shard, weights in `half` stored float16-quantised as TF.js does."""
    specs, blobs = [], []
    for name, value in weights.items():
        spec = {"name": name, "shape": list(value.shape), "dtype": str(value.dtype)}
        if name in half:
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            value = value.astype(np.float16)
        specs.append(spec)
        blobs.append(value.tobytes())
        nodes.insert(0, {"name": name, "op": "Const", "attr": {}})
    (folder / "weights.bin").write_bytes(b"".join(blobs))
    spec = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["weights.bin"], "weights": specs}],
    }
    (folder / "model.json").write_text(json.dumps(spec))
    return folder / "model.json"


def _placeholder(shape: list[int], dtype: str = "DT_FLOAT") -> dict:
    dims = [{"size": str(d)} for d in shape]
    return {"name": "input", "op": "Placeholder",
            "attr": {"dtype": {"type": dtype}, "shape": {"shape": {"dim": dims}}}}  # fmt: skip


def _run(model_json: Path, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(
        convert(model_json).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"input": x})


def _conv_same(x: np.ndarray, w: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """TensorFlow's NHWC convolution with SAME padding, in plain numpy (HWIO / HWCM weights)."""
    _, h, wd, c = x.shape
    kh, kw = w.shape[:2]
    oh, ow = -(-h // stride), -(-wd // stride)
    ph, pw = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - wd, 0)
    padded = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    outputs = c * w.shape[3] if depthwise else w.shape[3]
    out = np.zeros((1, oh, ow, outputs), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = padded[0, i * stride : i * stride + kh, j * stride : j * stride + kw]
            if depthwise:  # output channel = input channel * multiplier + m
                out[0, i, j] = np.einsum("hwc,hwcm->cm", patch, w).reshape(-1)
            else:
                out[0, i, j] = np.einsum("hwc,hwco->o", patch, w)
    return out


def test_convolutions_match_tensorflow_semantics(tmp_path: Path) -> None:
    x = RNG.normal(size=(1, 9, 9, 3)).astype(np.float32)  # odd: SAME pads the end only
    w1 = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    b1 = RNG.normal(size=4).astype(np.float32)
    w2 = RNG.normal(size=(3, 3, 4, 2)).astype(np.float32)
    conv = {"strides": {"list": {"i": ["1", "2", "2", "1"]}}, "padding": _s("SAME"),
            "data_format": _s("NHWC"),
            "fused_ops": {"list": {"s": [_s("BiasAdd")["s"], _s("Relu6")["s"]]}}}  # fmt: skip
    depthwise = {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": _s("SAME")}
    nodes = [
        _placeholder([1, 9, 9, 3]),
        {"name": "conv", "op": "_FusedConv2D", "input": ["input", "w1", "b1"], "attr": conv},
        {"name": "dw", "op": "DepthwiseConv2dNative", "input": ["conv", "w2"], "attr": depthwise},
        {"name": "Identity", "op": "Identity", "input": ["dw"]},
    ]
    model = _write(tmp_path, nodes, {"w1": w1, "b1": b1, "w2": w2}, half=("w2",))
    (got,) = _run(model, x)
    stem = np.clip(_conv_same(x, w1, 2, False) + b1, 0, 6)
    expected = _conv_same(stem, w2.astype(np.float16).astype(np.float32), 1, True)
    assert got.shape == (1, 5, 5, 8)
    assert np.abs(got - expected).max() < 1e-4


def test_decoding_ops_match_tensorflow_semantics(tmp_path: Path) -> None:
    """FloorDiv rounds towards minus infinity; Unpack/Pack/GatherNd/ArgMax keep TF's axes."""
    table = RNG.normal(size=(4, 5, 2)).astype(np.float32)
    divisor = np.array(3, np.int32)
    nodes = [
        _placeholder([2, 3], "DT_INT32"),
        {"name": "q", "op": "FloorDiv", "input": ["input", "divisor"]},
        {"name": "rows", "op": "Unpack", "input": ["input"],
         "attr": {"axis": {"i": "0"}, "num": {"i": "2"}}},
        {"name": "swapped", "op": "Pack", "input": ["rows:1", "rows"],
         "attr": {"axis": {"i": "0"}}},
        {"name": "best", "op": "ArgMax", "input": ["swapped", "argmax_dim"],
         "attr": {"output_type": {"type": "DT_INT32"}}},
        {"name": "picked", "op": "GatherNd", "input": ["table", "index"]},
        {"name": "out_q", "op": "Identity", "input": ["q"]},
        {"name": "out_best", "op": "Identity", "input": ["best"]},
        {"name": "out_picked", "op": "Identity", "input": ["picked"]},
    ]  # fmt: skip
    weights = {"divisor": divisor, "table": table, "argmax_dim": np.array(1, np.int32),
               "index": np.array([[3, 1], [0, 4]], np.int32)}  # fmt: skip
    model = _write(tmp_path, nodes, weights)
    x = np.array([[-7, 7, -6], [5, -1, 0]], np.int32)
    q, best, picked = _run(model, x)
    assert q.tolist() == (x // 3).tolist()  # numpy's // is TensorFlow's FloorDiv
    assert best.tolist() == np.argmax(x[::-1], axis=1).tolist() and best.dtype == np.int32
    assert np.array_equal(picked, table[[3, 0], [1, 4]])


def test_an_unsupported_op_is_named(tmp_path: Path) -> None:
    nodes = [_placeholder([1, 4]), {"name": "y", "op": "Softplus", "input": ["input"]}]
    with pytest.raises(TfjsError, match="TF.js op Softplus .* not supported"):
        convert(_write(tmp_path, nodes, {}))


def test_onnx_tf_ops_match_tensorflow_semantics(tmp_path: Path) -> None:
    """NanoDet's graph (written by onnx-tf): NCHW input padded and transposed by hand, PadV2
    with a fill value before a VALID MaxPool, LeakyRelu, SplitV, and a Reshape whose shape is
    constant arithmetic (SparseToDense + AddV2) folded at conversion."""
    x = RNG.normal(size=(1, 2, 5, 5)).astype(np.float32)
    nodes = [
        _placeholder([1, 2, 5, 5]),
        {"name": "pad", "op": "Pad", "input": ["input", "pads"]},
        {"name": "nhwc", "op": "Transpose", "input": ["pad", "perm"]},
        {"name": "fill", "op": "PadV2", "input": ["nhwc", "pads2", "neg"]},
        {"name": "pool", "op": "MaxPool", "input": ["fill"],
         "attr": {"ksize": {"list": {"i": ["1", "3", "3", "1"]}}, "padding": _s("VALID"),
                  "strides": {"list": {"i": ["1", "2", "2", "1"]}}}},
        {"name": "leaky", "op": "LeakyRelu", "input": ["pool"], "attr": {"alpha": {"f": 0.1}}},
        {"name": "parts", "op": "SplitV", "input": ["leaky", "sizes", "split_dim"],
         "attr": {"num_split": {"i": "2"}}},
        {"name": "dense", "op": "SparseToDense",
         "input": ["where", "dense_shape", "dense_values", "zero"]},
        {"name": "shape", "op": "AddV2", "input": ["base_shape", "dense"]},
        {"name": "flat", "op": "Reshape", "input": ["parts:1", "shape"]},
        {"name": "out_first", "op": "Identity", "input": ["parts"]},
        {"name": "out_flat", "op": "Identity", "input": ["flat"]},
    ]  # fmt: skip
    weights = {
        "pads": np.array([[0, 0], [0, 0], [1, 0], [0, 1]], np.int32),  # NCHW: top 1, right 1
        "perm": np.array([0, 2, 3, 1], np.int32),
        "pads2": np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32),
        "neg": np.array(-100.0, np.float32),
        "sizes": np.array([1, 1], np.int32),
        "split_dim": np.array(3, np.int32),
        "where": np.array([[1]], np.int64),  # the second entry of the shape gets +1
        "dense_shape": np.array([2], np.int64),
        "dense_values": np.array([1], np.int64),
        "zero": np.array(0, np.int64),
        "base_shape": np.array([1, -2], np.int64),  # (1, -2) + (0, 1) = (1, -1)
    }
    first, flat = _run(_write(tmp_path, nodes, weights), x)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 1))).transpose(0, 2, 3, 1)
    filled = np.pad(padded, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-100.0)
    pooled = np.array([[filled[0, i : i + 3, j : j + 3].max((0, 1)) for j in (0, 2, 4)]
                       for i in (0, 2, 4)])[None]  # fmt: skip
    leaky = np.where(pooled > 0, pooled, 0.1 * pooled)
    assert np.allclose(first, leaky[..., :1], atol=1e-6)
    assert flat.shape == (1, 9) and np.allclose(flat[0], leaky[..., 1].ravel(), atol=1e-6)
