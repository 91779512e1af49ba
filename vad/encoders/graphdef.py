"""A reader for TensorFlow's frozen GraphDef files (`.pb`) without TensorFlow.

Why by hand: `make run` installs no TensorFlow, and the one detector shipped as a frozen graph
(`ssd-mobilenetv2-coco`) needs only the node list: names, op types, inputs, attributes and the
constant tensors. Those are four protobuf messages (GraphDef, NodeDef, AttrValue, TensorProto
and the shape inside it); decoding their wire format directly is ~150 lines and keeps
tensorflow's .proto files out of the tree. Fields this reader does not know are skipped, as
protobuf itself does. Field numbers are those of tensorflow/core/framework/*.proto.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# tensorflow/core/framework/types.proto DataType -> numpy
DTYPES: dict[int, type] = {
    1: np.float32,
    2: np.float64,
    3: np.int32,
    4: np.uint8,
    5: np.int16,
    6: np.int8,
    9: np.int64,
    10: np.bool_,
    19: np.float16,
}
DT_STRING = 7


class GraphDefError(ValueError):
    """The bytes are not a GraphDef this reader understands."""


@dataclass
class Node:
    """One NodeDef: what TensorFlow computes, named, with its inputs and attributes."""

    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, object] = field(default_factory=dict)


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise GraphDefError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes | memoryview):
    """(field number, wire type, value) of each field of one message; length-delimited values
    are memoryviews, varints ints, fixed32/64 raw bytes."""
    data = memoryview(data)
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > end:
                raise GraphDefError("truncated field")
            value, pos = data[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise GraphDefError(f"unsupported wire type {wire}")
        yield number, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _packed_ints(wire: int, value) -> list[int]:
    if wire == 0:
        return [_signed(value)]
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(_signed(v))
    return out


def _floats(wire: int, value) -> list[float]:
    return np.frombuffer(bytes(value), "<f4").tolist()


def read_shape(data) -> list[int]:
    """TensorShapeProto: dim (2) -> Dim.size (1); -1 for an unknown size."""
    dims = []
    for number, _, value in fields(data):
        if number == 2:
            size = 0
            for n, _, v in fields(value):
                if n == 1:
                    size = _signed(v)
            dims.append(size)
    return dims


def read_tensor(data) -> np.ndarray:
    """TensorProto -> numpy: the packed `tensor_content` or the typed repeated values (a single
    value is broadcast over the shape, as TensorFlow does)."""
    dtype, shape, content = 0, [], None
    values: list = []
    for number, wire, value in fields(data):
        if number == 1:
            dtype = value
        elif number == 2:
            shape = read_shape(value)
        elif number == 4:
            content = bytes(value)
        elif number == 5:  # float_val
            values.extend(_floats(wire, value) if wire == 2 else np.frombuffer(bytes(value), "<f4"))
        elif number in (7, 10, 11):  # int_val, int64_val, bool_val
            values.extend(_packed_ints(wire, value))
        elif number == 13:  # half_val: fp16 bit patterns held as ints
            values.extend(np.array(_packed_ints(wire, value), np.uint16).view(np.float16))
        elif number == 8:
            values.append(bytes(value))
    if dtype == DT_STRING:
        return np.array(values, dtype=object).reshape(shape) if shape else np.array(values)
    if dtype not in DTYPES:
        raise GraphDefError(f"tensor dtype {dtype} is not supported")
    np_type = DTYPES[dtype]
    count = int(np.prod(shape)) if shape else 1
    if content is not None:
        return np.frombuffer(content, np.dtype(np_type).newbyteorder("<")).reshape(shape).copy()
    array = np.array(values, np_type)
    if array.size == count:
        return array.reshape(shape)
    if array.size == 1 or (array.size == 0 and count >= 0):
        fill = array[0] if array.size else np_type(0)
        return np.full(shape, fill, np_type)
    raise GraphDefError(f"tensor of shape {shape} has {array.size} values")


def read_list(data) -> list:
    """AttrValue.ListValue: s (2), i (3), f (4), b (5), type (6), shape (7), tensor (8)."""
    out: list = []
    for number, wire, value in fields(data):
        if number == 2:
            out.append(bytes(value).decode("utf-8", "replace"))
        elif number in (3, 5, 6):
            out.extend(_packed_ints(wire, value))
        elif number == 4:
            out.extend(_floats(wire, value) if wire == 2 else np.frombuffer(bytes(value), "<f4"))
        elif number == 7:
            out.append(read_shape(value))
        elif number == 8:
            out.append(read_tensor(value))
    return out


def read_attr(data) -> object:
    """AttrValue: list (1), s (2), i (3), f (4), b (5), type (6), shape (7), tensor (8)."""
    for number, _, value in fields(data):
        if number == 1:
            return read_list(value)
        if number == 2:
            return bytes(value).decode("utf-8", "replace")
        if number == 3:
            return _signed(value)
        if number == 4:
            return float(np.frombuffer(bytes(value), "<f4")[0])
        if number == 5:
            return bool(value)
        if number == 6:
            return int(value)
        if number == 7:
            return read_shape(value)
        if number == 8:
            return read_tensor(value)
    return None


def read_node(data) -> Node:
    """NodeDef: name (1), op (2), input (3), attr (5: map entries key 1, value 2)."""
    node = Node("", "")
    for number, _, value in fields(data):
        if number == 1:
            node.name = bytes(value).decode()
        elif number == 2:
            node.op = bytes(value).decode()
        elif number == 3:
            node.inputs.append(bytes(value).decode())
        elif number == 5:
            key, attr = "", None
            for n, _, v in fields(value):
                if n == 1:
                    key = bytes(v).decode()
                elif n == 2:
                    attr = read_attr(v)
            node.attrs[key] = attr
    return node


def read_graph(path: Path) -> dict[str, Node]:
    """The nodes of a frozen GraphDef file by name, in file order (GraphDef.node is field 1)."""
    data = Path(path).read_bytes()
    try:
        nodes = [read_node(value) for number, _, value in fields(data) if number == 1]
    except (GraphDefError, IndexError, UnicodeDecodeError) as error:
        raise GraphDefError(f"{Path(path).name} is not a readable GraphDef ({error})") from error
    if not nodes:
        raise GraphDefError(f"{Path(path).name} holds no graph nodes")
    return {node.name: node for node in nodes}
