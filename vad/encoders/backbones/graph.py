"""A few ONNX operators, written straight with the `onnx` package (no torch, no tracing).

The backbones are plain convolution stacks; building their graph node by node from numpy weights
is a page of code, and it lets `vad models export` run where only the runtime is installed.
Batch normalisation is folded into the preceding convolution here, as inference engines do.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
INPUT, OUTPUT = "pixel_values", "embeds"


class GraphBuilder:
    """Accumulates nodes and weights; each method returns the name of the tensor it produced."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, array: np.ndarray, prefix: str = "w") -> str:
        name = self._name(prefix)
        self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(
        self,
        x: str,
        weight: np.ndarray,
        bias: np.ndarray,
        stride: int,
        pads: tuple[int, int, int, int],
        groups: int = 1,
    ) -> str:
        """pads = (top, left, bottom, right), as ONNX orders them (begins, then ends)."""
        w = self.const(weight.astype(np.float32), "conv_w")
        b = self.const(bias.astype(np.float32), "conv_b")
        kernel = list(weight.shape[2:])
        return self.node(
            "Conv", [x, w, b], kernel_shape=kernel, strides=[stride] * 2, pads=list(pads),
            group=groups,
        )  # fmt: skip

    def relu6(self, x: str) -> str:
        low = self.const(np.array(0.0, np.float32), "zero")
        high = self.const(np.array(6.0, np.float32), "six")
        return self.node("Clip", [x, low, high])

    def add(self, a: str, b: str) -> str:
        return self.node("Add", [a, b])

    def global_average(self, x: str) -> str:
        """(N, C, H, W) -> (N, C)."""
        return self.node("Flatten", [self.node("GlobalAveragePool", [x])], axis=1)

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray) -> str:
        w, b = self.const(weight.astype(np.float32), "fc_w"), self.const(bias.astype(np.float32))
        return self.node("Gemm", [x, w, b], transB=1)

    def model(self, output: str, image_size: int, dim: int, name: str) -> onnx.ModelProto:
        """The graph with a dynamic batch axis on input and output, checked by onnx."""
        self.nodes.append(helper.make_node("Identity", [output], [OUTPUT]))
        pixels = helper.make_tensor_value_info(
            INPUT, TensorProto.FLOAT, ["batch", 3, image_size, image_size]
        )
        embeds = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", dim])
        graph = helper.make_graph(self.nodes, name, [pixels], [embeds], self.weights)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vad"
        )
        model.ir_version = 8  # readable by onnxruntime >= 1.17 (the runtime's floor)
        onnx.checker.check_model(model, full_check=True)
        return model


def fold_batch_norm(
    weight: np.ndarray, gamma, beta, mean, var, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Conv weights and bias equal to conv (no bias) followed by inference batch norm."""
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    folded = weight.astype(np.float64) * scale[:, None, None, None]
    bias = beta.astype(np.float64) - mean.astype(np.float64) * scale
    return folded.astype(np.float32), bias.astype(np.float32)
