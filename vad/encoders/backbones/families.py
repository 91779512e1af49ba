"""Which backbone a checkpoint holds, and how its keys map onto `mbconv.Network`.

Each family is recognised by its key layout, so `vad models export` needs no extra setting and a
file of another network fails with the key it lacks instead of half-loading. A family also says
how pixels are normalised and at what size it was trained, which the manifest records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from vad.encoders.backbones.checkpoint import CheckpointError
from vad.encoders.backbones.mbconv import Block, Network, conv_bn, with_stage_strides

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite's TensorFlow preprocessing, (x - 127) / 128, written on the [0, 1] scale.
LITE_MEAN = (127 / 255,) * 3
LITE_STD = (128 / 255,) * 3
# EfficientNet-Lite0..4: (blocks, last block width) -> native input size.
LITE_SIZES = {(16, 320): 224, (21, 320): 240, (21, 352): 260, (24, 384): 280, (30, 448): 300}


@dataclass(frozen=True, slots=True)
class Backbone:
    network: Network
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def read_backbone(state: dict[str, np.ndarray]) -> Backbone:
    """The network in a state dict (MobileNetV2 or EfficientNet-Lite, `module.` prefixes of a
    DataParallel save removed)."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if "features.0.0.weight" in state:
        return Backbone(mobilenet_v2(state), 224, IMAGENET_MEAN, IMAGENET_STD)
    if "_conv_stem.weight" in state:
        net = efficientnet_lite(state)
        size = LITE_SIZES.get((len(net.blocks), net.blocks[-1].project.outputs), 224)
        return Backbone(net, size, LITE_MEAN, LITE_STD)
    raise CheckpointError(
        "not a MobileNetV2 or EfficientNet-Lite checkpoint (no features.0.0.weight or "
        f"_conv_stem.weight; first key {next(iter(state), None)!r})"
    )


def _indices(state: dict, pattern: str) -> list[int]:
    found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return sorted(found)


def mobilenet_v2(state: dict[str, np.ndarray], eps: float = 1e-5) -> Network:
    """torchvision / reference layout: features.0 stem, features.1..17 blocks, features.18 head;
    a block's `conv` holds [expand conv, bn, relu6,] depthwise conv, bn, relu6, project conv, bn."""
    layers = _indices(state, r"features\.(\d+)\.")
    if layers != list(range(len(layers))) or len(layers) < 3:
        raise CheckpointError("MobileNetV2 checkpoint: features.N layers are not contiguous")
    blocks = []
    for i in layers[1:-1]:
        p = f"features.{i}.conv"
        if f"{p}.6.weight" in state:  # with expansion
            expand = conv_bn(state, f"{p}.0", f"{p}.1", eps)
            dw, project = conv_bn(state, f"{p}.3", f"{p}.4", eps, depthwise=True), (f"{p}.6", 7)
        else:
            expand = None
            dw, project = conv_bn(state, f"{p}.0", f"{p}.1", eps, depthwise=True), (f"{p}.3", 4)
        blocks.append(Block(expand, dw, conv_bn(state, project[0], f"{p}.{project[1]}", eps)))
    last = layers[-1]
    return Network(
        "mobilenet_v2",
        "symmetric",
        conv_bn(state, "features.0.0", "features.0.1", eps, stride=2),
        with_stage_strides(blocks),
        conv_bn(state, f"features.{last}.0", f"features.{last}.1", eps),
        _classifier(state, "classifier.1"),
    )


def efficientnet_lite(state: dict[str, np.ndarray], eps: float = 1e-3) -> Network:
    """lukemelas' EfficientNet-PyTorch layout (as the Lite conversion uses it): _conv_stem/_bn0,
    _blocks.N.{_expand_conv/_bn0, _depthwise_conv/_bn1, _project_conv/_bn2}, _conv_head/_bn1, _fc.
    TensorFlow's batch-norm epsilon 1e-3 and SAME padding."""
    if any("_se_reduce" in k for k in state):
        raise CheckpointError("EfficientNet with squeeze-excitation: only the Lite variants")
    blocks = []
    for i in _indices(state, r"_blocks\.(\d+)\."):
        p = f"_blocks.{i}"
        expand = None
        if f"{p}._expand_conv.weight" in state:
            expand = conv_bn(state, f"{p}._expand_conv", f"{p}._bn0", eps)
        dw = conv_bn(state, f"{p}._depthwise_conv", f"{p}._bn1", eps, depthwise=True)
        blocks.append(Block(expand, dw, conv_bn(state, f"{p}._project_conv", f"{p}._bn2", eps)))
    return Network(
        "efficientnet_lite",
        "same",
        conv_bn(state, "_conv_stem", "_bn0", eps, stride=2),
        with_stage_strides(blocks),
        conv_bn(state, "_conv_head", "_bn1", eps),
        _classifier(state, "_fc"),
    )


def _classifier(state: dict, prefix: str) -> tuple[np.ndarray, np.ndarray] | None:
    weight, bias = state.get(f"{prefix}.weight"), state.get(f"{prefix}.bias")
    return (weight, bias) if weight is not None and bias is not None else None
