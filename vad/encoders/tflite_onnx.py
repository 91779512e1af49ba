"""A small TFLite -> ONNX converter for the float convolutional graphs the catalog ships.

Why a converter of our own: `make run` installs the runtime only (no torch, no TensorFlow), yet
must turn the default detector (a TFLite flatbuffer inside an npm package) into the ONNX graph
the workers run. tf2onnx needs TensorFlow; the official TFLite runtime (`ai-edge-litert`) would
be a second inference engine beside ONNX Runtime, without its providers (CUDA, TensorRT) or
batching. The graphs we convert use a handful of op types (MobileNet-SSD: CONV_2D,
DEPTHWISE_CONV_2D, ADD, RESHAPE, CONCATENATION, DEQUANTIZE of fp16 weights), so reading the
flatbuffer (`tflite`, generated flatbuffers accessors) and writing the ONNX graph (`onnx`) is
a few hundred lines, checked against `ai-edge-litert` on real frames in the tests. Any other op
type is refused by name rather than converted approximately.

Layout: TFLite is NHWC, ONNX convolutions are NCHW. The input is transposed once; 4-D tensors
stay NCHW through convolutions and adds, and are transposed back to NHWC only where an op reads
them in TFLite's layout (RESHAPE, CONCATENATION, graph outputs). The batch axis is dynamic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from vad.encoders.runtime import ModelError

OPSET = 17
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)
_SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RESHAPE", "CONCATENATION", "DEQUANTIZE")


def convert_tflite(tflite_path: Path, onnx_path: Path) -> dict:
    """Convert `tflite_path` to an ONNX file at `onnx_path`; returns the input/output names and
    NHWC shapes (batch as -1) for the manifest. Raises ModelError for an unsupported graph."""
    import onnx

    data = Path(tflite_path).read_bytes()
    graph = _Graph.parse(data)
    model = graph.to_onnx()
    onnx.checker.check_model(model)
    onnx.save(model, str(onnx_path))
    return graph.signature()


@dataclass
class _Graph:
    """One TFLite subgraph being rewritten as ONNX nodes."""

    model: object
    subgraph: object
    data: bytes
    constants: dict[int, np.ndarray] = field(default_factory=dict)
    nchw: set[int] = field(default_factory=set)  # tensors held transposed in the ONNX graph
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    output_names: dict[int, str] = field(default_factory=dict)  # TFLite index -> ONNX name
    _counter: int = 0

    @classmethod
    def parse(cls, data: bytes) -> _Graph:
        try:
            import tflite
        except ImportError as error:
            raise ModelError(f"converting TFLite needs the `tflite` package ({error})") from error
        try:
            model = tflite.Model.GetRootAsModel(data, 0)
            subgraphs = model.SubgraphsLength()
        except Exception as error:  # noqa: BLE001 - a broken flatbuffer raises anything
            raise ModelError(f"not a TFLite flatbuffer ({type(error).__name__})") from error
        if subgraphs != 1:
            raise ModelError(f"TFLite model has {subgraphs} subgraphs; only one is supported")
        graph = cls(model, model.Subgraphs(0), data)
        for i in range(graph.subgraph.TensorsLength()):
            array = graph._buffer(i)
            if array is not None:
                graph.constants[i] = array
        return graph

    # --- reading the flatbuffer -----------------------------------------------------------

    def _tensor(self, index: int):
        return self.subgraph.Tensors(index)

    def _name(self, index: int) -> str:
        return self._tensor(index).Name().decode()

    def _shape(self, index: int) -> list[int]:
        return [int(d) for d in self._tensor(index).ShapeAsNumpy()]

    def _buffer(self, index: int) -> np.ndarray | None:
        """The constant data of a tensor (weights), or None for an activation."""
        import tflite

        tensor = self._tensor(index)
        buffer = self.model.Buffers(tensor.Buffer())
        if buffer is None:
            return None
        if buffer.Offset() > 1:  # large models keep buffers after the flatbuffer
            raw = np.frombuffer(self.data, np.uint8, int(buffer.Size()), int(buffer.Offset()))
        elif buffer.DataLength():
            raw = buffer.DataAsNumpy()
        else:
            return None
        dtypes = {
            tflite.TensorType.FLOAT32: np.float32,
            tflite.TensorType.FLOAT16: np.float16,
            tflite.TensorType.INT32: np.int32,
            tflite.TensorType.INT64: np.int64,
        }
        dtype = dtypes.get(tensor.Type())
        if dtype is None:
            raise ModelError(
                f"tensor {self._name(index)!r} has type {tensor.Type()}: quantized graphs are "
                "not supported by this converter"
            )
        return np.frombuffer(raw.tobytes(), dtype).reshape(self._shape(index))

    def _op_name(self, op) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        return _builtin_names().get(number, f"builtin {number}")

    def signature(self) -> dict:
        """Input and output names in the ONNX graph (after `to_onnx`) and NHWC shapes."""

        def describe(index: int) -> dict:
            name = self.output_names.get(index, self._name(index))
            return {"name": name, "shape": [-1, *self._shape(index)[1:]]}

        return {
            "inputs": [describe(int(i)) for i in self.subgraph.InputsAsNumpy()],
            "outputs": [describe(int(i)) for i in self.subgraph.OutputsAsNumpy()],
        }

    # --- writing ONNX ---------------------------------------------------------------------

    def to_onnx(self):
        from onnx import TensorProto, helper

        inputs, outputs = [], []
        for index in self.subgraph.InputsAsNumpy():
            shape = ["batch", *self._shape(int(index))[1:]]
            name = self._name(int(index))
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        for i in range(self.subgraph.OperatorsLength()):
            self._convert(self.subgraph.Operators(i))
        for index in self.subgraph.OutputsAsNumpy():
            index = int(index)
            name = self._name(index)
            if index in self.nchw:  # an op left it transposed: restore TFLite's layout
                self.nodes.append(
                    helper.make_node("Transpose", [name], [name + "__out"], perm=[0, 2, 3, 1])
                )
                name += "__out"
            self.output_names[index] = name
            shape = ["batch", *self._shape(index)[1:]]
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        graph = helper.make_graph(self.nodes, "tflite", inputs, outputs, self.initializers)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vad-tflite"
        )
        model.ir_version = 8
        return model

    def _convert(self, op) -> None:
        kind = self._op_name(op)
        if kind not in _SUPPORTED:
            raise ModelError(
                f"TFLite op {kind} is not supported by vad's converter (it handles "
                f"{', '.join(_SUPPORTED)})"
            )
        ins = [int(i) for i in op.InputsAsNumpy()]
        outs = [int(i) for i in op.OutputsAsNumpy()]
        getattr(self, f"_op_{kind.lower()}")(op, ins, outs)

    def _fresh(self, base: str) -> str:
        self._counter += 1
        return f"{base}__{self._counter}"

    def _const(self, array: np.ndarray, base: str) -> str:
        from onnx import numpy_helper

        name = self._fresh(base)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def _source(self, index: int) -> str:
        """The ONNX name of a tensor read as-is (constants become initializers on first use)."""
        if index in self.constants:
            return self._const(self.constants[index].astype(np.float32), self._name(index))
        return self._name(index)

    def _nchw(self, index: int) -> str:
        """The tensor in NCHW layout (transposing an NHWC activation once, on demand)."""
        from onnx import helper

        if index in self.nchw:
            return self._name(index)
        if index in self.constants:
            return self._const(self.constants[index].transpose(_NHWC_TO_NCHW), self._name(index))
        name = self._fresh(self._name(index) + "_nchw")
        self.nodes.append(
            helper.make_node("Transpose", [self._name(index)], [name], perm=[0, 3, 1, 2])
        )
        return name

    def _nhwc(self, index: int) -> str:
        """The tensor in TFLite's own layout."""
        from onnx import helper

        if index not in self.nchw:
            return self._source(index)
        name = self._fresh(self._name(index) + "_nhwc")
        self.nodes.append(
            helper.make_node("Transpose", [self._name(index)], [name], perm=[0, 2, 3, 1])
        )
        return name

    def _activation(self, raw: str, out: str, fused: int) -> None:
        """TFLite's fused activation after an op: NONE, RELU, RELU_N1_TO_1 or RELU6."""
        from onnx import helper

        bounds = {0: None, 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
        if fused not in bounds:
            raise ModelError(f"fused activation {fused} is not supported")
        if bounds[fused] is None:
            self.nodes.append(helper.make_node("Identity", [raw], [out]))
        elif bounds[fused][1] is None:
            self.nodes.append(helper.make_node("Relu", [raw], [out]))
        else:
            low = self._const(np.array(bounds[fused][0], np.float32), "clip_min")
            high = self._const(np.array(bounds[fused][1], np.float32), "clip_max")
            self.nodes.append(helper.make_node("Clip", [raw, low, high], [out]))

    # --- op converters ------------------------------------------------------------------

    def _op_dequantize(self, op, ins: list[int], outs: list[int]) -> None:
        """fp16 weights -> float32 constants, folded at conversion time."""
        if ins[0] not in self.constants:
            raise ModelError("DEQUANTIZE of a computed tensor is not supported")
        self.constants[outs[0]] = self.constants[ins[0]].astype(np.float32)

    def _op_conv_2d(self, op, ins: list[int], outs: list[int]) -> None:
        import tflite

        options = tflite.Conv2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        weight = self._weight(ins[1]).transpose(0, 3, 1, 2)  # O,kh,kw,I -> O,I,kh,kw
        self._conv(ins, outs, weight, 1, options)

    def _op_depthwise_conv_2d(self, op, ins: list[int], outs: list[int]) -> None:
        import tflite

        options = tflite.DepthwiseConv2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        channels = self._shape(ins[0])[3]
        weight = self._weight(ins[1])[0].transpose(2, 0, 1)[:, None]  # 1,kh,kw,C*m -> C*m,1,kh,kw
        self._conv(ins, outs, weight, channels, options)

    def _weight(self, index: int) -> np.ndarray:
        if index not in self.constants:
            raise ModelError(f"convolution weights {self._name(index)!r} are not constant")
        return self.constants[index].astype(np.float32)

    def _conv(self, ins: list[int], outs: list[int], weight: np.ndarray, group: int, opt) -> None:
        from onnx import helper

        kh, kw = weight.shape[2:]
        dh, dw = opt.DilationHFactor() or 1, opt.DilationWFactor() or 1
        sh, sw = opt.StrideH(), opt.StrideW()
        _, h, w, _ = self._shape(ins[0])
        pads = [0, 0, 0, 0]
        if opt.Padding() == 0:  # SAME, TensorFlow's way: the extra pixel goes bottom/right
            top, bottom = _same_pads(h, kh, sh, dh)
            left, right = _same_pads(w, kw, sw, dw)
            pads = [top, left, bottom, right]
        inputs = [self._nchw(ins[0]), self._const(weight, self._name(ins[1]))]
        if len(ins) > 2 and ins[2] >= 0:
            inputs.append(self._const(self.constants[ins[2]].astype(np.float32), "bias"))
        raw = self._fresh(self._name(outs[0]) + "_conv")
        self.nodes.append(
            helper.make_node(
                "Conv",
                inputs,
                [raw],
                kernel_shape=[kh, kw],
                strides=[sh, sw],
                dilations=[dh, dw],
                pads=pads,
                group=group,
            )
        )
        self._activation(raw, self._name(outs[0]), opt.FusedActivationFunction())
        self.nchw.add(outs[0])

    def _op_add(self, op, ins: list[int], outs: list[int]) -> None:
        import tflite

        options = tflite.AddOptions()
        table = op.BuiltinOptions()
        fused = 0
        if table is not None:
            options.Init(table.Bytes, table.Pos)
            fused = options.FusedActivationFunction()
        from onnx import helper

        four_d = all(len(self._shape(i)) == 4 for i in ins) and any(i in self.nchw for i in ins)
        read = self._nchw if four_d else self._nhwc
        raw = self._fresh(self._name(outs[0]) + "_add")
        self.nodes.append(helper.make_node("Add", [read(ins[0]), read(ins[1])], [raw]))
        self._activation(raw, self._name(outs[0]), fused)
        if four_d:
            self.nchw.add(outs[0])

    def _op_reshape(self, op, ins: list[int], outs: list[int]) -> None:
        from onnx import helper

        shape = np.array([-1, *self._shape(outs[0])[1:]], np.int64)  # dynamic batch
        target = self._const(shape, "shape")
        self.nodes.append(
            helper.make_node("Reshape", [self._nhwc(ins[0]), target], [self._name(outs[0])])
        )

    def _op_concatenation(self, op, ins: list[int], outs: list[int]) -> None:
        import tflite
        from onnx import helper

        options = tflite.ConcatenationOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        axis = options.Axis()
        rank = len(self._shape(outs[0]))
        raw = self._fresh(self._name(outs[0]) + "_concat")
        parts = [self._nhwc(i) for i in ins]
        self.nodes.append(helper.make_node("Concat", parts, [raw], axis=axis % rank))
        self._activation(raw, self._name(outs[0]), options.FusedActivationFunction())


@lru_cache(maxsize=1)
def _builtin_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow SAME padding for one axis: (before, after), the odd pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2
