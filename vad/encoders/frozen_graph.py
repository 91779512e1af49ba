"""A frozen TensorFlow graph (`.pb`), cut between two tensors, as an ONNX model - without TF.

`vad models export ssd-mobilenetv2-coco` lands here. The TF object-detection API freezes the
whole pipeline into one graph: resizing (a `while` loop over the batch), the network, and the
post-processing (anchor generation, box decoding, per-class NMS: more `while` loops,
TensorArrays, dynamic shapes). ONNX Runtime needs only the network: the graph is cut at the
preprocessor's output (fed directly: the stretched, normalised frame) and at the box predictors'
concatenated raw outputs; decoding then runs in numpy like every SSD here
(`vad/encoders/detectors/ssd.py`).

Between the cuts: constant subgraphs (batch norm parameters read through `Identity`, `Rsqrt`,
`Mul`, `Sub`) are folded in numpy; "the batch size of an activation" (`Shape` -> `StridedSlice`
element 0, which TF packs into each reshape's target shape) becomes ONNX Reshape's 0, "copy that
axis from the input"; the rest - convolutions, batch-norm multiply/add, Relu6, BiasAdd,
Reshape, ConcatV2, Squeeze - is translated node by node by the same TF-op translator as the
TF.js models (`vad/encoders/tfjs.TfNodeConverter`). Any other op is an error naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from vad.encoders.graphdef import GraphDefError, Node, read_graph
from vad.encoders.tfjs import TfjsError, TfNodeConverter, onnx_model

_BATCH = "batch size"  # marker: the value is an activation's batch size (dynamic)


def source(name: str) -> str:
    """The producing node of an input reference ("node:1" -> "node", "^node" -> "node")."""
    return name.lstrip("^").partition(":")[0]


def cut(nodes: dict[str, Node], start: str, ends: list[str]) -> list[Node]:
    """The nodes `ends` depend on, stopping at `start`, in an order where inputs come first."""
    order: list[Node] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(e, False) for e in reversed(ends)]
    while stack:
        name, expanded = stack.pop()
        if expanded:
            order.append(nodes[name])
            continue
        if name in seen:
            continue
        if name not in nodes:
            raise GraphDefError(f"the graph has no node {name!r}")
        seen.add(name)
        stack.append((name, True))
        if name != start:
            stack.extend((source(i), False) for i in reversed(nodes[name].inputs))
    if start not in seen:
        raise GraphDefError(f"{ends} do not depend on {start!r}")
    return order


def _strided_batch(node: Node, values: dict) -> bool:
    """`StridedSlice(Shape(activation), [0], [1], [1])` with shrink_axis: the batch size."""
    x, begin, end, strides = (values.get(source(i)) for i in node.inputs[:4])
    return (
        isinstance(x, str)
        and x == _BATCH
        and [int(v) for v in np.ravel(begin)] == [0]
        and [int(v) for v in np.ravel(end)] == [1]
        and [int(v) for v in np.ravel(strides)] == [1]
        and node.attrs.get("shrink_axis_mask") == 1
    )


def fold(node: Node, values: dict, dynamic: set[str]) -> object | None:
    """The value of `node` when it is computable without an input image, else None."""
    args = [values.get(source(i)) for i in node.inputs if not i.startswith("^")]
    if node.op == "Const":
        return node.attrs["value"]
    if node.op == "Shape" and source(node.inputs[0]) in dynamic:
        return _BATCH  # only its element 0 may be used (checked by StridedSlice below)
    if node.op == "StridedSlice" and _strided_batch(node, values):
        return np.int32(0)  # ONNX Reshape: 0 copies the input's axis (the batch)
    if any(isinstance(a, str) for a in args):
        raise GraphDefError(
            f"{node.name} ({node.op}) uses an activation's shape beyond its batch size, "
            "which this converter does not translate"
        )
    if any(a is None for a in args):
        return None
    arithmetic = {
        "Identity": lambda a: a,
        "Rsqrt": lambda a: (1.0 / np.sqrt(a)).astype(a.dtype),
        "Mul": lambda a, b: (a * b).astype(a.dtype),
        "Add": lambda a, b: (a + b).astype(a.dtype),
        "AddV2": lambda a, b: (a + b).astype(a.dtype),
        "Sub": lambda a, b: (a - b).astype(a.dtype),
        "Pack": lambda *xs: np.stack(xs, int(node.attrs.get("axis", 0))),
    }
    if node.op not in arithmetic:
        return None
    return np.asarray(arithmetic[node.op](*args))


def convert_frozen(
    path: Path, start: str, input_shape: list[int | str], outputs: dict[str, str], name: str
) -> onnx.ModelProto:
    """The part of the frozen graph at `path` between the tensor `start` (fed as a float input
    named "image" of `input_shape`, NHWC) and `outputs` (graph node -> ONNX output name)."""
    nodes = read_graph(path)
    converter = TfNodeConverter({})
    values: dict[str, object] = {}
    dynamic = {start}
    converter.dtypes["image"] = np.float32
    for node in cut(nodes, start, list(outputs)):
        if node.name == start:
            converter.emit("Identity", ["image"], start, np.float32)
            continue
        value = fold(node, values, dynamic)
        if value is not None:
            values[node.name] = value
            if not isinstance(value, str):
                converter.inits[node.name] = np.asarray(value)
                converter.dtypes[node.name] = np.asarray(value).dtype.type
            continue
        dynamic.add(node.name)
        inputs = [i for i in node.inputs if not i.startswith("^")]
        try:
            converter.convert({"name": node.name, "op": node.op, "input": inputs,
                               "attr": node.attrs})  # fmt: skip
        except TfjsError as error:
            raise GraphDefError(str(error).replace("TF.js op", "TensorFlow op")) from error
    for graph_name, onnx_name in outputs.items():
        converter.emit("Identity", [graph_name], onnx_name, converter.dtypes[graph_name])
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, input_shape)
    return onnx_model(converter, [image], list(outputs.values()), {}, name)
