"""The model folder: catalog names, installed models, stage status (CLI and API share it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from api.routes.system import stages
from vad.config import Settings
from vad.encoders import registry
from vad.encoders.runtime import ModelError


def test_catalog_and_hf_repo_names() -> None:
    assert registry.resolve("clip-vit-b32").source == "openai/clip-vit-base-patch32"
    assert registry.resolve("yolo11n").kind == "detector"
    assert registry.resolve("mobilenetv2").kind == "image"
    entry = registry.resolve("laion/CLIP-ViT-B-32-laion2B-s34B-b79K")
    assert entry.kind == "clip" and entry.name == "laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    with pytest.raises(ModelError, match="unknown model"):
        registry.resolve("nonsense")


def test_stages_off_without_models_and_on_once_installed(
    tmp_path: Path, tiny_clip: Path, tiny_mobilenet: Path
) -> None:
    settings = Settings(_env_file=None, model_dir=tmp_path)
    off = {s["stage"]: s for s in stages(settings, None)["stages"]}
    assert not any(s["on"] for s in off.values())
    assert (
        "vad models pull clip-vit-b32 && vad models export clip-vit-b32"
        in off["zero-shot"]["reason"]
    )
    shutil.copytree(tiny_clip, tmp_path / "encoders" / "clip-vit-b32")
    (model,) = registry.installed(tmp_path)
    assert model.kind == "clip" and model.input_size() == "64x64"
    on = {s.stage: s.on for s in registry.stage_status(settings)}
    assert on == {"embeddings": True, "zero-shot": True, "detector": False, "appearance": False}
    assert "vad models pull mobilenetv2" in off["appearance"]["reason"]
    shutil.copytree(tiny_mobilenet, tmp_path / "encoders" / "mobilenetv2")
    assert {s.stage: s.on for s in registry.stage_status(settings)}["appearance"]
    with_clip = Settings(_env_file=None, model_dir=tmp_path, appearance={"encoder": "clip-vit-b32"})
    assert {s.stage: s.on for s in registry.stage_status(with_clip)}["appearance"]
    disabled = Settings(_env_file=None, model_dir=tmp_path, zero_shot={"enabled": False})
    assert not {s.stage: s.on for s in registry.stage_status(disabled)}["zero-shot"]
    no_detector = Settings(_env_file=None, model_dir=tmp_path, encoders={"run_detector": False})
    reason = {s.stage: s.reason for s in registry.stage_status(no_detector)}["detector"]
    assert "VAD_ENCODERS__RUN_DETECTOR=false" in reason
