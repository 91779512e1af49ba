"""A TensorFlow.js graph model (model.json + weight shards) translated to ONNX, without TF.

MoveNet and NanoDet ship on the package registries as TF.js graph models: frozen TensorFlow
graphs of a few op types (NanoDet's went through onnx-tf, hence its transposes, explicit pads and
shape arithmetic on constants, which is folded here in numpy). Each node is translated to ONNX
nodes with the same meaning, keeping TensorFlow's NHWC layout everywhere except inside
convolutions and pooling (wrapped in transposes; ONNX Runtime's optimiser removes the
back-to-back pairs). An op outside the supported set is an error naming it, never a silent
approximation.

Weights: the manifest's shards are concatenated and cut in manifest order; float16- and
uint8-quantised tensors are expanded back to float32 as TF.js does when it loads them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64, "DT_BOOL": np.bool_}
_ONNX_TYPES = {np.float32: TensorProto.FLOAT, np.int32: TensorProto.INT32,
               np.int64: TensorProto.INT64, np.bool_: TensorProto.BOOL}  # fmt: skip
_NCHW, _NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
# GraphDef DataType numbers (tensorflow/core/framework/types.proto) of the types above
_GRAPHDEF_DTYPES = {1: np.float32, 3: np.int32, 9: np.int64, 10: np.bool_}


class TfjsError(ValueError):
    """The model folder is not a TF.js graph model this converter understands."""


def read_weights(model_json: dict, folder: Path) -> dict[str, np.ndarray]:
    """Every weight of the manifest as a numpy array (float32 / int32)."""
    out: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            stored = np.dtype(quant["dtype"] if quant else spec["dtype"])
            nbytes = count * stored.itemsize
            if offset + nbytes > len(data):
                raise TfjsError(f"weight shards end before {spec['name']}")
            raw = np.frombuffer(data, stored, count, offset).astype(np.dtype(spec["dtype"]))
            if quant and quant["dtype"] in ("uint8", "uint16"):
                raw = raw * np.float32(quant["scale"]) + np.float32(quant["min"])
            out[spec["name"]] = raw.reshape(shape).astype(np.dtype(spec["dtype"]))
            offset += nbytes
    return out


def _attr(node: dict, key: str, kind: str, default=None):
    value = node.get("attr", {}).get(key)
    if value is None:
        return default
    if not isinstance(value, dict):  # already decoded: a frozen GraphDef (vad/encoders/graphdef)
        return _GRAPHDEF_DTYPES[value] if kind == "type" else value
    if kind == "s":
        return base64.b64decode(value["s"]).decode()
    if kind == "ints":
        return [int(i) for i in value.get("list", {}).get("i", [])]
    if kind == "strs":
        return [base64.b64decode(s).decode() for s in value.get("list", {}).get("s", [])]
    if kind == "type":
        return _DTYPES[value["type"]]
    if kind == "i":
        return int(value["i"])
    return value.get(kind, default)


class TfNodeConverter:
    """TensorFlow nodes -> ONNX nodes, one op handler each. Nodes are dicts as TF.js's
    `modelTopology` holds them (attributes base64/JSON) or as `vad/encoders/graphdef.py` reads a
    frozen GraphDef (attributes decoded); the TF op semantics are the same."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.dtypes: dict[str, type] = {}
        self.count = 0

    # -- helpers -------------------------------------------------------------------------
    def tmp(self, base: str) -> str:
        self.count += 1
        return f"{base}__{self.count}"

    def const(self, base: str, array: np.ndarray) -> str:
        name = self.tmp(base)
        self.inits[name] = np.asarray(array)
        return name

    def emit(self, op: str, inputs: list[str], output: str, dtype, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        self.dtypes[output] = dtype
        return output

    def value(self, name: str) -> np.ndarray:
        """A constant input's value (axes, shapes, sizes must be constants here)."""
        if name not in self.inits:
            raise TfjsError(f"{name} must be a constant")
        return self.inits[name]

    @staticmethod
    def ref(name: str) -> str:
        """TF input names: "node", "node:1" (second output), "^node" (control dependency)."""
        return name[:-2] if name.endswith(":0") else name

    # -- ops ---------------------------------------------------------------------------
    def convert(self, node: dict) -> None:
        op, name = node["op"], node["name"]
        inputs = [self.ref(i) for i in node.get("input", []) if not i.startswith("^")]
        handler: Callable | None = getattr(self, f"op_{op}", None)
        if handler is None:
            raise TfjsError(f"TF.js op {op} (node {name}) is not supported by this converter")
        handler(node, name, inputs)

    def op_Const(self, node, name, inputs) -> None:  # noqa: N802 - TF op names
        if name not in self.weights:
            raise TfjsError(f"constant {name} has no value in the weights manifest")
        self.inits[name] = self.weights[name]
        self.dtypes[name] = self.weights[name].dtype.type

    def op_Identity(self, node, name, inputs) -> None:  # noqa: N802
        self.emit("Identity", inputs[:1], name, self.dtypes[inputs[0]])

    def op_Cast(self, node, name, inputs) -> None:  # noqa: N802
        dtype = _attr(node, "DstT", "type")
        self.emit("Cast", inputs[:1], name, dtype, to=_ONNX_TYPES[dtype])

    def _binary(self, onnx_op: str, name: str, inputs: list[str]) -> None:
        self.emit(onnx_op, inputs[:2], name, self.dtypes[inputs[0]])

    def _fold(self, name: str, array: np.ndarray) -> None:
        """A node whose inputs are all constants becomes a constant (shape arithmetic)."""
        self.inits[name] = np.asarray(array)
        self.dtypes[name] = self.inits[name].dtype.type

    def op_AddV2(self, node, name, inputs) -> None:  # noqa: N802
        if all(i in self.inits for i in inputs[:2]):
            a, b = self.inits[inputs[0]], self.inits[inputs[1]]
            self._fold(name, (a + b).astype(a.dtype))
            return
        self._binary("Add", name, inputs)

    op_Add = op_AddV2
    op_BiasAdd = op_AddV2  # NHWC: the bias broadcasts over the last axis as in TF

    def op_Sub(self, node, name, inputs) -> None:  # noqa: N802
        self._binary("Sub", name, inputs)

    def op_Mul(self, node, name, inputs) -> None:  # noqa: N802
        self._binary("Mul", name, inputs)

    def op_RealDiv(self, node, name, inputs) -> None:  # noqa: N802
        self._binary("Div", name, inputs)

    def op_FloorDiv(self, node, name, inputs) -> None:  # noqa: N802
        dtype = self.dtypes[inputs[0]]
        if dtype is np.float32:
            quotient = self.emit("Div", inputs[:2], self.tmp(name), dtype)
            self.emit("Floor", [quotient], name, dtype)
            return
        # Integer floor division (ONNX Div truncates): q = trunc(a / b) - (sign differs and a % b).
        a, b = inputs[:2]
        trunc = self.emit("Div", [a, b], self.tmp(name), dtype)
        rem = self.emit("Mod", [a, b], self.tmp(name), dtype, fmod=1)
        zero = self.const("zero", np.array(0, dtype))
        product = self.emit("Mul", [a, b], self.tmp(name), dtype)
        negative = self.emit("Less", [product, zero], self.tmp(name), np.bool_)
        inexact = self.emit("Not", [self.emit("Equal", [rem, zero], self.tmp(name), np.bool_)],
                            self.tmp(name), np.bool_)  # fmt: skip
        fix = self.emit("And", [negative, inexact], self.tmp(name), np.bool_)
        fix = self.emit("Cast", [fix], self.tmp(name), dtype, to=_ONNX_TYPES[dtype])
        self.emit("Sub", [trunc, fix], name, dtype)

    def op_SquaredDifference(self, node, name, inputs) -> None:  # noqa: N802
        diff = self.emit("Sub", inputs[:2], self.tmp(name), self.dtypes[inputs[0]])
        self.emit("Mul", [diff, diff], name, self.dtypes[inputs[0]])

    def op_Sqrt(self, node, name, inputs) -> None:  # noqa: N802
        self.emit("Sqrt", inputs[:1], name, np.float32)

    def op_Sigmoid(self, node, name, inputs) -> None:  # noqa: N802
        self.emit("Sigmoid", inputs[:1], name, np.float32)

    def op_Relu(self, node, name, inputs) -> None:  # noqa: N802
        self.emit("Relu", inputs[:1], name, np.float32)

    def op_Relu6(self, node, name, inputs) -> None:  # noqa: N802
        self._relu6(inputs[0], name)

    def _relu6(self, x: str, name: str) -> str:
        low = self.const("zero", np.array(0, np.float32))
        high = self.const("six", np.array(6, np.float32))
        return self.emit("Clip", [x, low, high], name, np.float32)

    def op_LeakyRelu(self, node, name, inputs) -> None:  # noqa: N802
        alpha = float(_attr(node, "alpha", "f", 0.2))
        self.emit("LeakyRelu", inputs[:1], name, np.float32, alpha=alpha)

    def op_Transpose(self, node, name, inputs) -> None:  # noqa: N802
        perm = [int(p) for p in self.value(inputs[1])]
        self.emit("Transpose", inputs[:1], name, self.dtypes[inputs[0]], perm=perm)

    def op_Pad(self, node, name, inputs) -> None:  # noqa: N802
        """TF paddings (rank, 2) = [[begin, end], ...] -> ONNX pads [begins..., ends...]."""
        pads = self.const("pads", self.value(inputs[1]).astype(np.int64).T.ravel())
        dtype = self.dtypes[inputs[0]]
        fill = self.value(inputs[2]) if len(inputs) > 2 else np.zeros((), dtype)
        value = self.const("pad_value", np.asarray(fill, dtype).reshape(()))
        self.emit("Pad", [inputs[0], pads, value], name, dtype, mode="constant")

    op_PadV2 = op_Pad

    def op_SplitV(self, node, name, inputs) -> None:  # noqa: N802
        sizes = self.value(inputs[1]).astype(np.int64)
        axis = int(self.value(inputs[2]))
        if (sizes < 0).any():
            raise TfjsError(f"SplitV with an inferred size ({name}) is not supported")
        outputs = [name] + [f"{name}:{i}" for i in range(1, len(sizes))]
        split = self.const("split", sizes)
        self.nodes.append(helper.make_node("Split", [inputs[0], split], outputs, axis=axis))
        for output in outputs:
            self.dtypes[output] = self.dtypes[inputs[0]]

    def op_SparseToDense(self, node, name, inputs) -> None:  # noqa: N802
        """Only on constants (onnx-tf's shape arithmetic): folded in numpy."""
        indices, shape, values, default = (self.value(i) for i in inputs[:4])
        dense = np.full(shape.astype(np.int64), default, dtype=values.dtype)
        index = indices.astype(np.int64).reshape(-1, max(len(shape), 1))
        for row, value in zip(index, np.broadcast_to(values, (len(index),)), strict=True):
            dense[tuple(row)] = value
        self._fold(name, dense)

    def op_MaxPool(self, node, name, inputs) -> None:  # noqa: N802
        """NHWC in, NHWC out (wrapped in transposes like the convolutions)."""
        if _attr(node, "data_format", "s", "NHWC") != "NHWC":
            raise TfjsError(f"{name}: only NHWC pooling is supported")
        padding = _attr(node, "padding", "s", "VALID")
        if padding not in ("SAME", "VALID"):
            raise TfjsError(f"{name}: padding {padding} is not supported")
        kernel = _attr(node, "ksize", "ints")[1:3]
        strides = _attr(node, "strides", "ints")[1:3]
        x = self.emit("Transpose", inputs[:1], self.tmp(name), np.float32, perm=_NCHW)
        pad = "SAME_UPPER" if padding == "SAME" else "VALID"
        y = self.emit("MaxPool", [x], self.tmp(name), np.float32, kernel_shape=kernel,
                      strides=strides, auto_pad=pad)  # fmt: skip
        self.emit("Transpose", [y], name, np.float32, perm=_NHWC)

    def op_Reshape(self, node, name, inputs) -> None:  # noqa: N802
        shape = self._int64(inputs[1], name)
        self.emit("Reshape", [inputs[0], shape], name, self.dtypes[inputs[0]])

    def _int64(self, x: str, base: str) -> str:
        """A shape-like input as int64 (ONNX's type for shapes, sizes, repeats): a constant
        converted here, a computed one (MultiPose's shape arithmetic) cast in the graph."""
        if x in self.inits:
            return self.const(base + "_i64", self.inits[x].astype(np.int64))
        return self.emit("Cast", [x], self.tmp(base), np.int64, to=TensorProto.INT64)

    # -- the ops of MoveNet MultiPose's in-graph decoding (shape arithmetic, top-k, masks) --
    def _unary(self, onnx_op: str, name: str, inputs: list[str], dtype=None) -> None:
        self.emit(onnx_op, inputs[:1], name, dtype or self.dtypes[inputs[0]])

    def op_Exp(self, node, name, inputs) -> None:  # noqa: N802
        self._unary("Exp", name, inputs)

    def op_Abs(self, node, name, inputs) -> None:  # noqa: N802
        self._unary("Abs", name, inputs)

    def op_Reciprocal(self, node, name, inputs) -> None:  # noqa: N802
        self._unary("Reciprocal", name, inputs)

    def op_Maximum(self, node, name, inputs) -> None:  # noqa: N802
        self._binary("Max", name, inputs)

    def op_Minimum(self, node, name, inputs) -> None:  # noqa: N802
        self._binary("Min", name, inputs)

    def _compare(self, onnx_op: str, name: str, inputs: list[str]) -> None:
        self.emit(onnx_op, inputs[:2], name, np.bool_)

    def op_Less(self, node, name, inputs) -> None:  # noqa: N802
        self._compare("Less", name, inputs)

    def op_Greater(self, node, name, inputs) -> None:  # noqa: N802
        self._compare("Greater", name, inputs)

    def op_GreaterEqual(self, node, name, inputs) -> None:  # noqa: N802
        self._compare("GreaterOrEqual", name, inputs)

    def op_LessEqual(self, node, name, inputs) -> None:  # noqa: N802
        self._compare("LessOrEqual", name, inputs)

    def op_Equal(self, node, name, inputs) -> None:  # noqa: N802
        self._compare("Equal", name, inputs)

    def op_LogicalAnd(self, node, name, inputs) -> None:  # noqa: N802
        self._compare("And", name, inputs)

    def op_Select(self, node, name, inputs) -> None:  # noqa: N802
        self.emit("Where", inputs[:3], name, self.dtypes[inputs[1]])

    op_SelectV2 = op_Select

    def op_AddN(self, node, name, inputs) -> None:  # noqa: N802
        self.emit("Sum", inputs, name, self.dtypes[inputs[0]])

    def op_Shape(self, node, name, inputs) -> None:  # noqa: N802
        dtype = _attr(node, "out_type", "type", np.int32)
        shape = self.emit("Shape", inputs[:1], self.tmp(name), np.int64)
        self.emit("Cast", [shape], name, dtype, to=_ONNX_TYPES[dtype])

    def op_Size(self, node, name, inputs) -> None:  # noqa: N802
        dtype = _attr(node, "out_type", "type", np.int32)
        size = self.emit("Size", inputs[:1], self.tmp(name), np.int64)
        self.emit("Cast", [size], name, dtype, to=_ONNX_TYPES[dtype])

    def op_Range(self, node, name, inputs) -> None:  # noqa: N802
        dtype = _attr(node, "Tidx", "type", self.dtypes[inputs[0]])
        parts = [
            self.emit("Cast", [x], self.tmp(name), dtype, to=_ONNX_TYPES[dtype]) for x in inputs[:3]
        ]
        self.emit("Range", parts, name, dtype)

    def op_Fill(self, node, name, inputs) -> None:  # noqa: N802
        self.emit("Expand", [inputs[1], self._int64(inputs[0], name)], name, self.dtypes[inputs[1]])

    def op_Tile(self, node, name, inputs) -> None:  # noqa: N802
        self.emit("Tile", [inputs[0], self._int64(inputs[1], name)], name, self.dtypes[inputs[0]])

    def _reduce(self, onnx_op: str, node, name, inputs) -> None:
        axes = np.atleast_1d(self.value(inputs[1])).astype(np.int64).tolist()
        keep = int(bool(_attr(node, "keep_dims", "b", False)))
        if onnx_op == "ReduceSum":  # opset 13+: axes as an input
            axes_in = self.const("axes", np.array(axes, np.int64))
            self.emit(onnx_op, [inputs[0], axes_in], name, self.dtypes[inputs[0]], keepdims=keep)
        else:
            self.emit(onnx_op, inputs[:1], name, self.dtypes[inputs[0]], axes=axes, keepdims=keep)

    def op_Sum(self, node, name, inputs) -> None:  # noqa: N802
        self._reduce("ReduceSum", node, name, inputs)

    def op_Max(self, node, name, inputs) -> None:  # noqa: N802
        self._reduce("ReduceMax", node, name, inputs)

    def op_TopKV2(self, node, name, inputs) -> None:  # noqa: N802
        k = self.const("k", np.atleast_1d(self.value(inputs[1])).astype(np.int64))
        indices = self.tmp(name)
        self.nodes.append(
            helper.make_node("TopK", [inputs[0], k], [name, indices], largest=1, sorted=1)
        )
        self.dtypes[name] = self.dtypes[inputs[0]]
        self.emit("Cast", [indices], f"{name}:1", np.int32, to=TensorProto.INT32)

    def op_Split(self, node, name, inputs) -> None:  # noqa: N802
        """TF Split(axis, value): `num_split` equal parts (ONNX Split without sizes)."""
        axis, count = int(self.value(inputs[0])), _attr(node, "num_split", "i")
        outputs = [name] + [f"{name}:{i}" for i in range(1, count)]
        self.nodes.append(helper.make_node("Split", [inputs[1]], outputs, axis=axis))
        for output in outputs:
            self.dtypes[output] = self.dtypes[inputs[1]]

    def op_StridedSlice(self, node, name, inputs) -> None:  # noqa: N802
        """TF's StridedSlice (constant begin/end/strides, any masks but the ellipsis) as ONNX
        Slice on the sliced axes, Squeeze of the shrunk ones, Unsqueeze of the new ones."""
        begin, end, strides = (self.value(i).astype(np.int64).tolist() for i in inputs[1:4])
        masks = {m: _attr(node, f"{m}_mask", "i", 0) or 0 for m in
                 ("begin", "end", "ellipsis", "new_axis", "shrink_axis")}  # fmt: skip
        if masks["ellipsis"]:
            raise TfjsError(f"{name}: StridedSlice with an ellipsis is not supported")
        big = np.iinfo(np.int64).max
        starts, ends, axes, steps, shrink, new = [], [], [], [], [], []
        axis = out = 0
        for i, (b, e, st) in enumerate(zip(begin, end, strides, strict=True)):
            if masks["new_axis"] >> i & 1:
                new.append(out)
                out += 1
                continue
            if masks["shrink_axis"] >> i & 1:
                starts.append(b)
                ends.append(b + 1 if b != -1 else big)
                shrink.append(axis)
                st = 1
            else:
                starts.append(0 if st > 0 else -1) if masks["begin"] >> i & 1 else starts.append(b)
                ends.append((big if st > 0 else -big) if masks["end"] >> i & 1 else e)
                out += 1
            axes.append(axis)
            steps.append(st)
            axis += 1
        dtype = self.dtypes[inputs[0]]
        x = inputs[0]
        if axes:
            parts = {"starts": starts, "ends": ends, "axes": axes, "steps": steps}
            consts = [self.const(n, np.array(v, np.int64)) for n, v in parts.items()]
            x = self.emit("Slice", [x, *consts], self.tmp(name), dtype)
        if shrink:
            x = self.emit("Squeeze", [x, self.const("axes", np.array(shrink, np.int64))],
                          self.tmp(name), dtype)  # fmt: skip
        if new:
            x = self.emit("Unsqueeze", [x, self.const("axes", np.array(new, np.int64))],
                          self.tmp(name), dtype)  # fmt: skip
        self.emit("Identity", [x], name, dtype)

    def op_ExpandDims(self, node, name, inputs) -> None:  # noqa: N802
        axes = self.const("axes", np.atleast_1d(self.value(inputs[1])).astype(np.int64))
        self.emit("Unsqueeze", [inputs[0], axes], name, self.dtypes[inputs[0]])

    def op_Squeeze(self, node, name, inputs) -> None:  # noqa: N802
        dims = _attr(node, "squeeze_dims", "ints")
        if not dims:
            raise TfjsError(f"Squeeze without squeeze_dims ({name}) is not supported")
        axes = self.const("axes", np.array(dims, np.int64))
        self.emit("Squeeze", [inputs[0], axes], name, self.dtypes[inputs[0]])

    def op_Unpack(self, node, name, inputs) -> None:  # noqa: N802
        axis, num = _attr(node, "axis", "i", 0), _attr(node, "num", "i")
        dtype = self.dtypes[inputs[0]]
        parts = [self.tmp(name) for _ in range(num)]
        self.nodes.append(helper.make_node("Split", inputs[:1], parts, axis=axis))
        axes = self.const("axes", np.array([axis], np.int64))
        for i, part in enumerate(parts):
            self.emit("Squeeze", [part, axes], name if i == 0 else f"{name}:{i}", dtype)

    def op_Pack(self, node, name, inputs) -> None:  # noqa: N802
        axis = _attr(node, "axis", "i", 0)
        axes = self.const("axes", np.array([axis], np.int64))
        dtype = self.dtypes[inputs[0]]
        parts = [self.emit("Unsqueeze", [x, axes], self.tmp(name), dtype) for x in inputs]
        self.emit("Concat", parts, name, dtype, axis=axis)

    def op_ConcatV2(self, node, name, inputs) -> None:  # noqa: N802
        axis = int(self.value(inputs[-1]))
        self.emit("Concat", inputs[:-1], name, self.dtypes[inputs[0]], axis=axis)

    def op_ArgMax(self, node, name, inputs) -> None:  # noqa: N802
        axis = int(self.value(inputs[1]))
        index = self.emit("ArgMax", inputs[:1], self.tmp(name), np.int64, axis=axis, keepdims=0)
        dtype = _attr(node, "output_type", "type", np.int64)
        self.emit("Cast", [index], name, dtype, to=_ONNX_TYPES[dtype])

    def op_GatherNd(self, node, name, inputs) -> None:  # noqa: N802
        indices = self.emit("Cast", [inputs[1]], self.tmp(name), np.int64, to=TensorProto.INT64)
        self.emit("GatherND", [inputs[0], indices], name, self.dtypes[inputs[0]])

    def op_ResizeBilinear(self, node, name, inputs) -> None:  # noqa: N802
        if _attr(node, "align_corners", "b", False):
            mode = "align_corners"
        elif _attr(node, "half_pixel_centers", "b", False):
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        size = self._int64(inputs[1], name)
        shape = self.emit("Shape", inputs[:1], self.tmp(name), np.int64)
        batch = self._slice(shape, 0, 1, name)
        channels = self._slice(shape, 3, 4, name)
        sizes = self.emit("Concat", [batch, size, channels], self.tmp(name), np.int64, axis=0)
        self.emit("Resize", [inputs[0], "", "", sizes], name, np.float32, mode="linear",
                  coordinate_transformation_mode=mode)  # fmt: skip

    def _slice(self, x: str, start: int, end: int, base: str) -> str:
        starts = self.const("start", np.array([start], np.int64))
        ends = self.const("end", np.array([end], np.int64))
        return self.emit("Slice", [x, starts, ends], self.tmp(base), np.int64)

    def _conv(self, node, name, inputs, weight: np.ndarray, groups: int) -> None:
        """NHWC in, NHWC out; TF SAME = ONNX SAME_UPPER (the extra pixel at the end)."""
        strides = _attr(node, "strides", "ints", [1, 1, 1, 1])
        dilations = _attr(node, "dilations", "ints", [1, 1, 1, 1])
        if _attr(node, "data_format", "s", "NHWC") != "NHWC":
            raise TfjsError(f"{name}: only NHWC convolutions are supported")
        padding = _attr(node, "padding", "s", "VALID")
        if padding not in ("SAME", "VALID"):
            raise TfjsError(f"{name}: padding {padding} is not supported")
        fused = _attr(node, "fused_ops", "strs", [])
        if fused and fused[0] != "BiasAdd" or any(f not in ("BiasAdd", "Relu", "Relu6")
                                                  for f in fused):  # fmt: skip
            raise TfjsError(f"{name}: fused ops {fused} are not supported")
        x = self.emit("Transpose", inputs[:1], self.tmp(name), np.float32, perm=_NCHW)
        conv_inputs = [x, self.const("w", weight)]
        if fused:
            conv_inputs.append(self.const("b", self.value(inputs[2]).astype(np.float32)))
        y = self.emit("Conv", conv_inputs, self.tmp(name), np.float32, group=groups,
                      kernel_shape=list(weight.shape[2:]), strides=strides[1:3],
                      dilations=dilations[1:3],
                      auto_pad="SAME_UPPER" if padding == "SAME" else "VALID")  # fmt: skip
        if "Relu6" in fused:
            y = self._relu6(y, self.tmp(name))
        elif "Relu" in fused:
            y = self.emit("Relu", [y], self.tmp(name), np.float32)
        self.emit("Transpose", [y], name, np.float32, perm=_NHWC)

    def op__FusedConv2D(self, node, name, inputs) -> None:  # noqa: N802
        weight = self.value(inputs[1]).transpose(3, 2, 0, 1)  # HWIO -> OIHW
        self._conv(node, name, inputs, np.ascontiguousarray(weight), 1)

    def op_Conv2D(self, node, name, inputs) -> None:  # noqa: N802
        self.op__FusedConv2D(node, name, inputs)

    def op_DepthwiseConv2dNative(self, node, name, inputs) -> None:  # noqa: N802
        kh, kw, channels, multiplier = self.value(inputs[1]).shape
        weight = self.value(inputs[1]).reshape(kh, kw, channels * multiplier).transpose(2, 0, 1)
        self._conv(node, name, inputs, np.ascontiguousarray(weight[:, None]), channels)

    op_FusedDepthwiseConv2dNative = op_DepthwiseConv2dNative


def convert(model_json_path: Path, name: str = "tfjs") -> onnx.ModelProto:
    """The graph model at `model_json_path` as an ONNX model; inputs are its Placeholders, the
    output its `Identity` sinks (what the TF.js signature lists)."""
    path = Path(model_json_path)
    try:
        spec = json.loads(path.read_text())
        topology = spec["modelTopology"]["node"]
    except (OSError, ValueError, KeyError) as error:
        raise TfjsError(f"{path} is not a TF.js graph model ({error})") from error
    converter = TfNodeConverter(read_weights(spec, path.parent))
    inputs, used = [], set()
    for node in topology:
        used.update(TfNodeConverter.ref(i) for i in node.get("input", []))
        if node["op"] == "Placeholder":
            dtype = _attr(node, "dtype", "type")
            dims = [int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"]]
            dims = [d if d > 0 else ("batch" if i == 0 else f"size{i}") for i, d in enumerate(dims)]
            inputs.append(helper.make_tensor_value_info(node["name"], _ONNX_TYPES[dtype], dims))
            converter.dtypes[node["name"]] = dtype
        else:
            converter.convert(node)
    sinks = [n["name"] for n in topology if n["op"] != "Const" and n["name"] not in used]
    shapes = {
        key.partition(":")[0]: [int(d["size"]) for d in out["tensorShape"]["dim"]]
        for key, out in spec.get("signature", {}).get("outputs", {}).items()
    }
    return onnx_model(converter, inputs, sinks, shapes, name)


def onnx_model(
    converter: TfNodeConverter, inputs: list, sinks: list[str], shapes: dict, name: str
) -> onnx.ModelProto:
    """The converted nodes as a checked ONNX model: `inputs` (value infos), `sinks` (the output
    tensor names; shapes from `shapes` or ONNX shape inference), only the used initializers."""
    outputs = [
        helper.make_tensor_value_info(s, _ONNX_TYPES[converter.dtypes[s]], shapes.get(s))
        for s in sinks
    ]
    used_inputs = {i for node in converter.nodes for i in node.input}
    initializers = [  # TF's raw weights are replaced by transposed copies; keep what is used
        numpy_helper.from_array(v, k) for k, v in converter.inits.items() if k in used_inputs
    ]
    graph = helper.make_graph(converter.nodes, name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    _output_shapes(model, sinks, shapes)
    onnx.checker.check_model(model, full_check=True)
    return model


def _output_shapes(model: onnx.ModelProto, sinks: list[str], known: dict) -> None:
    """Outputs the signature gives no shape for get the one ONNX shape inference finds."""
    missing = [s for s in sinks if s not in known]
    if not missing:
        return
    inferred = onnx.shape_inference.infer_shapes(model)
    found = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
    for output in model.graph.output:
        if output.name in missing:
            if not found[output.name].type.tensor_type.HasField("shape"):
                raise TfjsError(f"cannot infer the shape of output {output.name}")
            output.type.CopyFrom(found[output.name].type)
