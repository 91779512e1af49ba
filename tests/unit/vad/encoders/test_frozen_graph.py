"""The TF-free frozen-graph path: the GraphDef wire-format reader and the converter (cut,
constant folding, batch-size shape arithmetic, node translation) on a small graph encoded here
byte by byte, checked against the same computation in numpy."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from vad.encoders.frozen_graph import convert_frozen, cut
from vad.encoders.graphdef import GraphDefError, read_graph

DT = {np.float32: 1, np.int32: 3}


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def tensor(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    shape = b"".join(field(2, field(1, d)) for d in array.shape)
    return field(1, DT[array.dtype.type]) + field(2, shape) + field(4, array.tobytes())


def attr(value) -> bytes:
    if isinstance(value, np.ndarray):
        return field(8, tensor(value))
    if isinstance(value, str):
        return field(2, value.encode())
    if isinstance(value, list):
        return field(1, field(3, b"".join(varint(v) for v in value)))
    if isinstance(value, float):
        return varint(4 << 3 | 5) + struct.pack("<f", value)
    return field(3, value)


def node(name: str, op: str, inputs=(), **attrs) -> bytes:
    body = field(1, name.encode()) + field(2, op.encode())
    body += b"".join(field(3, i.encode()) for i in inputs)
    for key, value in attrs.items():
        body += field(5, field(1, key.encode()) + field(2, attr(value)))
    return field(1, body)


RNG = np.random.default_rng(0)
W = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)  # HWIO
DW = RNG.normal(size=(3, 3, 4, 1)).astype(np.float32)
GAMMA, BETA = RNG.uniform(0.5, 2, 4).astype(np.float32), RNG.normal(size=4).astype(np.float32)
MEAN, VAR = RNG.normal(size=4).astype(np.float32), RNG.uniform(0.5, 2, 4).astype(np.float32)
BIAS = RNG.normal(size=4).astype(np.float32)


def write_graph(path: Path) -> None:
    """x -> Conv2D (SAME, stride 2) -> batch norm (unfused, as TF 1 froze it) -> Relu6 ->
    depthwise conv -> BiasAdd -> Reshape to (batch, -1, 4) with the batch read from Shape ->
    ConcatV2 with itself; plus a `Sub` preprocessor in front that the cut removes."""
    i32 = np.int32
    parts = [
        node("raw", "Placeholder", dtype=1),
        node("half", "Const", value=np.array(0.5, np.float32), dtype=1),
        node("pre", "Sub", ["raw", "half"], T=1),
        node("w", "Const", value=W, dtype=1),
        node("w/read", "Identity", ["w"], T=1),
        node("conv", "Conv2D", ["pre", "w/read"], T=1, strides=[1, 2, 2, 1], padding="SAME",
             data_format="NHWC", dilations=[1, 1, 1, 1]),
        node("eps", "Const", value=np.array(1e-3, np.float32), dtype=1),
        node("var", "Const", value=VAR, dtype=1),
        node("gamma", "Const", value=GAMMA, dtype=1),
        node("beta", "Const", value=BETA, dtype=1),
        node("mean", "Const", value=MEAN, dtype=1),
        node("bn/add", "Add", ["var", "eps"], T=1),
        node("bn/rsqrt", "Rsqrt", ["bn/add"], T=1),
        node("bn/mul", "Mul", ["bn/rsqrt", "gamma"], T=1),
        node("bn/mul_2", "Mul", ["mean", "bn/mul"], T=1),
        node("bn/sub", "Sub", ["beta", "bn/mul_2"], T=1),
        node("bn/mul_1", "Mul", ["conv", "bn/mul"], T=1),
        node("bn/add_1", "Add", ["bn/mul_1", "bn/sub"], T=1),
        node("relu", "Relu6", ["bn/add_1"], T=1),
        node("dw", "Const", value=DW, dtype=1),
        node("dwconv", "DepthwiseConv2dNative", ["relu", "dw"], T=1, strides=[1, 1, 1, 1],
             padding="SAME", data_format="NHWC", dilations=[1, 1, 1, 1]),
        node("bias", "Const", value=BIAS, dtype=1),
        node("biasadd", "BiasAdd", ["dwconv", "bias"], T=1, data_format="NHWC"),
        node("shape", "Shape", ["biasadd"], T=1, out_type=3),
        node("b0", "Const", value=np.array([0], i32), dtype=3),
        node("b1", "Const", value=np.array([1], i32), dtype=3),
        node("batch", "StridedSlice", ["shape", "b0", "b1", "b1"], T=3, Index=3,
             shrink_axis_mask=1),
        node("m1", "Const", value=np.array(-1, i32), dtype=3),
        node("four", "Const", value=np.array(4, i32), dtype=3),
        node("stack", "Pack", ["batch", "m1", "four"], T=3, N=3, axis=0),
        node("reshape", "Reshape", ["biasadd", "stack"], T=1, Tshape=3),
        node("axis", "Const", value=np.array(1, i32), dtype=3),
        node("concat", "ConcatV2", ["reshape", "reshape", "axis"], T=1, N=2, Tidx=3),
        node("after", "Erf", ["concat"], T=1),  # post-processing: beyond the cut
    ]  # fmt: skip
    path.write_bytes(b"".join(parts))


def expected(x: np.ndarray) -> np.ndarray:
    """The graph from `pre` to `concat`, computed in numpy (SAME padding as TF pads)."""
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))  # 8x8, k3 s2: 0 before, 1 after
    conv = np.zeros((n, h // 2, w // 2, 4), np.float32)
    for i in range(h // 2):
        for j in range(w // 2):
            patch = padded[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3, :]
            conv[:, i, j] = np.einsum("nhwc,hwco->no", patch, W)
    scale = GAMMA / np.sqrt(VAR + 1e-3)
    y = np.clip(conv * scale + (BETA - MEAN * scale), 0, 6)
    p = np.pad(y, ((0, 0), (1, 1), (1, 1), (0, 0)))
    dw = np.zeros_like(y)
    for i in range(y.shape[1]):
        for j in range(y.shape[2]):
            dw[:, i, j] = np.einsum("nhwc,hwc->nc", p[:, i : i + 3, j : j + 3], DW[..., 0])
    out = (dw + BIAS).reshape(n, -1, 4)
    return np.concatenate([out, out], 1)


def test_reader_decodes_nodes_attributes_and_tensors(tmp_path: Path) -> None:
    write_graph(tmp_path / "g.pb")
    nodes = read_graph(tmp_path / "g.pb")
    assert nodes["conv"].op == "Conv2D" and nodes["conv"].inputs == ["pre", "w/read"]
    assert nodes["conv"].attrs["strides"] == [1, 2, 2, 1]
    assert nodes["conv"].attrs["padding"] == "SAME"
    assert np.array_equal(nodes["w"].attrs["value"], W)
    assert nodes["m1"].attrs["value"] == -1  # negative int32 (a 10-byte varint)
    assert nodes["batch"].attrs["shrink_axis_mask"] == 1
    assert [n.name for n in cut(nodes, "pre", ["concat"])][-1] == "concat"
    assert "raw" not in {n.name for n in cut(nodes, "pre", ["concat"])}


def test_converted_graph_computes_what_tensorflow_would(tmp_path: Path) -> None:
    write_graph(tmp_path / "g.pb")
    model = convert_frozen(tmp_path / "g.pb", "pre", ["batch", 8, 8, 3], {"concat": "out"}, "t")
    ops = {n.op_type for n in model.graph.node}
    assert "Shape" not in ops and "Erf" not in ops and "Rsqrt" not in ops  # cut and folded
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = RNG.normal(size=(3, 8, 8, 3)).astype(np.float32)  # any batch size
    (out,) = session.run(None, {"image": x})
    assert out.shape == (3, 32, 4)
    assert np.abs(out - expected(x)).max() < 1e-4


def test_unknown_ops_and_bad_files_are_named(tmp_path: Path) -> None:
    write_graph(tmp_path / "g.pb")
    with pytest.raises(GraphDefError, match="TensorFlow op Erf"):
        convert_frozen(tmp_path / "g.pb", "pre", ["batch", 8, 8, 3], {"after": "out"}, "t")
    (tmp_path / "bad.pb").write_bytes(b"\x0a\xff\xff\xff\x0fnot a graph")
    with pytest.raises(GraphDefError, match="not a readable GraphDef"):
        read_graph(tmp_path / "bad.pb")
    with pytest.raises(GraphDefError, match="no node"):
        convert_frozen(tmp_path / "g.pb", "pre", ["batch", 8, 8, 3], {"nope": "out"}, "t")


def test_other_uses_of_an_activations_shape_are_refused(tmp_path: Path) -> None:
    """Only "the batch size" (element 0 of Shape) is folded; anything else is named."""
    i32 = np.int32
    parts = [
        node("x", "Placeholder", dtype=1),
        node("shape", "Shape", ["x"], T=1, out_type=3),
        node("b1", "Const", value=np.array([1], i32), dtype=3),
        node("b2", "Const", value=np.array([2], i32), dtype=3),
        node("height", "StridedSlice", ["shape", "b1", "b2", "b1"], T=3, Index=3,
             shrink_axis_mask=1),
        node("m1", "Const", value=np.array(-1, i32), dtype=3),
        node("stack", "Pack", ["height", "m1"], T=3, N=2, axis=0),
        node("reshape", "Reshape", ["x", "stack"], T=1, Tshape=3),
    ]  # fmt: skip
    (tmp_path / "g.pb").write_bytes(b"".join(parts))
    with pytest.raises(GraphDefError, match="height .* beyond its batch size"):
        convert_frozen(tmp_path / "g.pb", "x", ["batch", 4, 4, 3], {"reshape": "out"}, "t")
