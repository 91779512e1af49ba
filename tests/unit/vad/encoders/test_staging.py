"""A model folder is written through a staging folder: complete or not at all."""

from __future__ import annotations

import pytest

from vad.encoders.staging import staged_folder


def test_a_finished_folder_replaces_the_old_one_whole(tmp_path) -> None:
    target = tmp_path / "encoders" / "m"
    target.mkdir(parents=True)
    (target / "old.onnx").write_text("old")
    with staged_folder(target) as staging:
        assert not any(staging.iterdir())
        (staging / "model.onnx").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["model.onnx"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]  # no .partial, no .old


def test_a_failure_leaves_the_old_folder_and_no_staging(tmp_path) -> None:
    target = tmp_path / "m"
    target.mkdir()
    (target / "model.onnx").write_text("old")
    with pytest.raises(ValueError, match="bad weights"), staged_folder(target) as staging:
        (staging / "model.onnx").write_text("half")
        raise ValueError("bad weights")
    assert (target / "model.onnx").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_first_export_creates_the_parent(tmp_path) -> None:
    target = tmp_path / "new" / "m"
    with staged_folder(target) as staging:
        (staging / "manifest.json").write_text("{}")
    assert (target / "manifest.json").is_file()
