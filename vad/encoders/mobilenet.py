"""MobileNetV2 (Sandler et al., CVPR 2018) as a frozen ImageNet feature extractor, in torch.

The reference network of the torch-free export's parity tests (`vad models export mobilenetv2`
writes the ONNX graph without torch, `vad/encoders/backbones/`), and the builder of the tests'
random-weight checkpoints; nothing on the runtime or export path imports it. The layer layout
follows the paper's table 2 (a 3x3 stem, 17 inverted-residual blocks, a 1x1 conv to 1280
channels) with the submodule numbering of the reference PyTorch checkpoint, so a pulled checkpoint
loads strictly, key by key, and a mismatching file fails loudly instead of half-loading. The
classifier is dropped: the output is the 1280-d global average of the last feature map, the
embedding the appearance model compares.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s) of the paper's table 2.
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip
STEM, HEAD = 32, 1280


def _conv_bn(inputs: int, outputs: int, kernel: int, stride: int, groups: int = 1) -> list:
    return [
        nn.Conv2d(inputs, outputs, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(outputs),
    ]


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise 3x3 -> linear projection (1x1); residual when shapes allow."""

    def __init__(self, inputs: int, outputs: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = inputs * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [*_conv_bn(inputs, hidden, 1, 1), nn.ReLU6(inplace=True)]
        layers += [*_conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(inplace=True)]
        layers += _conv_bn(hidden, outputs, 1, 1)
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2Features(nn.Module):
    """ImageNet-normalised (N, 3, H, W) pixels -> (N, 1280) globally pooled features."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(*_conv_bn(3, STEM, 3, 2), nn.ReLU6(inplace=True))]
        channels = STEM
        for expansion, outputs, repeats, stride in BLOCKS:
            for i in range(repeats):
                step = stride if i == 0 else 1
                layers.append(InvertedResidual(channels, outputs, step, expansion))
                channels = outputs
        layers.append(nn.Sequential(*_conv_bn(channels, HEAD, 1, 1), nn.ReLU6(inplace=True)))
        self.features = nn.Sequential(*layers)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.features(pixels).mean(dim=(2, 3))


def load_mobilenet_v2(weights: Path) -> MobileNetV2Features:
    """The network with the checkpoint's weights (a state dict, optionally under "state_dict";
    classifier entries are ignored), in eval mode. Any other difference is an error."""
    state = torch.load(Path(weights), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{weights} is not a MobileNetV2 state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    model = MobileNetV2Features()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise ValueError(f"{weights} does not fit MobileNetV2: {first[0].strip()[:300]}") from error
    return model.eval()
