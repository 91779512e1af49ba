"""Clear errors for a missing model folder, an incomplete export and a corrupt ONNX file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vad.encoders.clip import ClipEncoder
from vad.encoders.detectors import Detector
from vad.encoders.runtime import ModelCorrupt, ModelNotInstalled, pick_providers


def test_missing_folder_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled) as error:
        ClipEncoder.load(tmp_path / "clip-vit-b32")
    message = str(error.value)
    assert "not installed" in message
    assert "vad models pull clip-vit-b32 && vad models export clip-vit-b32" in message


def test_missing_onnx_file_is_not_installed(tiny_clip: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_clip, tmp_path / "tiny-clip")
    (copy / "text.onnx").unlink()
    with pytest.raises(ModelNotInstalled, match="text.onnx is missing"):
        ClipEncoder.load(copy)


def test_corrupt_onnx_says_which_file_and_to_re_export(tiny_clip: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_clip, tmp_path / "tiny-clip")
    data = (copy / "image.onnx").read_bytes()
    (copy / "image.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelCorrupt) as error:
        ClipEncoder.load(copy)
    assert "image.onnx" in str(error.value)
    assert "vad models export tiny-clip" in str(error.value)


def test_wrong_kind_is_refused(tiny_clip: Path) -> None:
    with pytest.raises(ModelCorrupt, match="not detector"):
        Detector.load(tiny_clip)


def test_providers_prefer_gpu_and_always_end_on_cpu() -> None:
    chosen = pick_providers()
    assert chosen[-1] == "CPUExecutionProvider"
    assert pick_providers(["NoSuchExecutionProvider"]) == ["CPUExecutionProvider"]


# The runtime path's torch-free imports are checked over the whole tree in
# tests/unit/test_architecture.py.
