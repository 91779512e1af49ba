"""The inverted-residual network both appearance backbones are, and its ONNX graph.

MobileNetV2 (Sandler et al. 2018) and EfficientNet-Lite (Tan & Le 2019, the "lite" variants:
no squeeze-excitation, ReLU6, fixed stem and head) share one shape: a 3x3 stride-2 stem, seven
stages of blocks "1x1 expand -> depthwise kxk -> 1x1 linear projection (+ input when shapes
allow)", a 1x1 head conv and a global average. They differ in their checkpoints' key names,
batch-norm epsilon, kernel sizes and padding: PyTorch's symmetric k//2 for MobileNetV2,
TensorFlow's "SAME" (the extra pixel at the bottom/right) for the EfficientNet weights, which were
trained in TensorFlow. Each family module reads its checkpoint into a `Network`; `to_onnx` builds
the graph for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx

from vad.encoders.backbones.checkpoint import CheckpointError
from vad.encoders.backbones.graph import GraphBuilder, fold_batch_norm

# First-block stride of the seven stages (the same in both papers' tables).
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)


@dataclass(frozen=True, slots=True)
class ConvBN:
    """A bias-free convolution and the batch norm after it, as stored in the checkpoint."""

    weight: np.ndarray  # (out, in / groups, k, k)
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float
    stride: int = 1
    depthwise: bool = False

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[-1])

    @property
    def outputs(self) -> int:
        return int(self.weight.shape[0])


@dataclass(frozen=True, slots=True)
class Block:
    expand: ConvBN | None
    depthwise: ConvBN
    project: ConvBN

    @property
    def residual(self) -> bool:
        inputs = self.expand.weight.shape[1] if self.expand else self.depthwise.outputs
        return self.depthwise.stride == 1 and inputs == self.project.outputs


@dataclass(frozen=True, slots=True)
class Network:
    family: str
    padding: str  # "symmetric" (PyTorch k // 2) or "same" (TensorFlow SAME)
    stem: ConvBN
    blocks: tuple[Block, ...]
    head: ConvBN
    classifier: tuple[np.ndarray, np.ndarray] | None = None  # (1000, dim) weight, bias

    @property
    def dim(self) -> int:
        return self.head.outputs


def conv_bn(state: dict, conv: str, bn: str, eps: float, **kw) -> ConvBN:
    """The ConvBN at `conv`.weight / `bn`.{weight,bias,running_mean,running_var}."""
    try:
        return ConvBN(
            state[f"{conv}.weight"],
            state[f"{bn}.weight"],
            state[f"{bn}.bias"],
            state[f"{bn}.running_mean"],
            state[f"{bn}.running_var"],
            eps,
            **kw,
        )
    except KeyError as missing:
        raise CheckpointError(f"checkpoint has no {missing.args[0]}") from None


def with_stage_strides(blocks: list[Block]) -> tuple[Block, ...]:
    """Give each stage's first block its stride: a stage starts where the width changes."""
    out, stage, width = [], -1, None
    for block in blocks:
        if block.project.outputs != width:
            stage, width = stage + 1, block.project.outputs
            stride = STAGE_STRIDES[stage] if stage < len(STAGE_STRIDES) else 1
        else:
            stride = 1
        depthwise = ConvBN(**{**_fields(block.depthwise), "stride": stride})
        out.append(Block(block.expand, depthwise, block.project))
    if stage != len(STAGE_STRIDES) - 1:
        raise CheckpointError(f"expected {len(STAGE_STRIDES)} stages, found {stage + 1}")
    return tuple(out)


def _fields(layer: ConvBN) -> dict:
    return {name: getattr(layer, name) for name in ConvBN.__slots__}


def to_onnx(net: Network, image_size: int, name: str, logits: bool = False) -> onnx.ModelProto:
    """(N, 3, size, size) normalised pixels -> (N, dim) pooled features (or, with `logits`,
    the checkpoint's classifier outputs: only to check the weights on labelled images)."""
    graph = _Builder(net.padding)
    x = graph.layer("pixel_values", net.stem, image_size, activation=True)
    size = graph.size
    for block in net.blocks:
        y = x
        if block.expand is not None:
            y = graph.layer(y, block.expand, size, activation=True)
        y = graph.layer(y, block.depthwise, size, activation=True)
        y = graph.layer(y, block.project, graph.size, activation=False)
        x = graph.add(x, y) if block.residual else y
        size = graph.size
    x = graph.global_average(graph.layer(x, net.head, size, activation=True))
    dim = net.dim
    if logits:
        if net.classifier is None:
            raise CheckpointError(f"{net.family} checkpoint has no classifier")
        x, dim = graph.linear(x, *net.classifier), int(net.classifier[0].shape[0])
    return graph.model(x, image_size, dim, name)


class _Builder(GraphBuilder):
    """GraphBuilder that tracks the spatial size, to place TensorFlow SAME padding exactly."""

    def __init__(self, padding: str) -> None:
        super().__init__()
        self.padding = padding
        self.size = 0

    def layer(self, x: str, layer: ConvBN, size: int, activation: bool) -> str:
        weight, bias = fold_batch_norm(
            layer.weight, layer.gamma, layer.beta, layer.mean, layer.var, layer.eps
        )
        pads, self.size = self._pads(size, layer.kernel, layer.stride)
        groups = layer.outputs if layer.depthwise else 1
        y = self.conv(x, weight, bias, layer.stride, pads, groups)
        return self.relu6(y) if activation else y

    def _pads(self, size: int, kernel: int, stride: int) -> tuple[tuple[int, ...], int]:
        if self.padding == "symmetric":
            half = kernel // 2
            return (half,) * 4, (size + 2 * half - kernel) // stride + 1
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + kernel - size, 0)
        begin, end = total // 2, total - total // 2
        return (begin, begin, end, end), out
