"""bench/stage1_exact.py's comparison: equal dumps pass, one changed bit or a missing term
fails and is named."""

from __future__ import annotations

import json

import numpy as np

from bench.stage1_exact import compare


def _dump(path, scores: dict[str, np.ndarray]) -> None:
    np.savez(path, **scores)


def test_equal_dumps_pass_and_one_changed_bit_fails(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    scores = {f"000 train_16/{k}": rng.random(30) for k in ("fused", "pixel", "objects")}
    _dump(tmp_path / "a.npz", scores)
    _dump(tmp_path / "b.npz", scores)
    assert compare(tmp_path / "a.npz", tmp_path / "b.npz")
    line = json.loads(capsys.readouterr().out)
    assert line["frames"] == 30 and line["arrays"] == 3 and line["values"] == 90
    changed = dict(scores)
    changed["000 train_16/pixel"] = scores["000 train_16/pixel"].copy()
    changed["000 train_16/pixel"][7] = np.nextafter(changed["000 train_16/pixel"][7], 2.0)
    _dump(tmp_path / "c.npz", changed)
    assert not compare(tmp_path / "a.npz", tmp_path / "c.npz")
    assert json.loads(capsys.readouterr().out)["differ"] == ["000 train_16/pixel"]


def test_a_term_missing_from_one_dump_fails(tmp_path, capsys) -> None:
    scores = {"000 a/fused": np.zeros(4), "000 a/objects": np.zeros(4)}
    _dump(tmp_path / "a.npz", scores)
    _dump(tmp_path / "b.npz", {"000 a/fused": np.zeros(4)})
    assert not compare(tmp_path / "a.npz", tmp_path / "b.npz")
    assert json.loads(capsys.readouterr().out)["differ"] == ["000 a/objects"]
