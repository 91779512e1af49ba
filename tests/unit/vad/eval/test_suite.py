"""`vad eval suite` without footage: which folders are datasets, the variants, the table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vad.eval.suite import (
    HALF_RATE,
    PLAIN,
    TABLE_HEADER,
    dataset_camera,
    discover_datasets,
    suite_cameras,
    table_rows,
)


def _dataset(root: Path, name: str, labels: dict[str, list[int]] | None = None) -> Path:
    folder = root / name
    (folder / "train").mkdir(parents=True)
    (folder / "test").mkdir()
    (folder / "train" / "train_01.mp4").write_bytes(b"")
    for stem in labels or {"test_01": [0, 1]}:
        (folder / "test" / f"{stem}.mp4").write_bytes(b"")
    videos = {k: {"labels": v} for k, v in (labels or {"test_01": [0, 1]}).items()}
    (folder / "test_labels.json").write_text(json.dumps({"videos": videos}))
    return folder


def test_every_folder_in_the_layout_is_a_dataset_and_nothing_else(tmp_path: Path) -> None:
    _dataset(tmp_path, "ucsd_ped2")
    _dataset(tmp_path, "another_camera")
    (tmp_path / "uca").mkdir()  # text only: no train/, test/
    (tmp_path / "uca" / "UCFCrime_Test.json").write_text("{}")
    half = tmp_path / "half"
    (half / "train").mkdir(parents=True)  # no test/ and no labels
    (tmp_path / "notes.txt").write_text("")
    assert [p.name for p in discover_datasets(tmp_path)] == ["another_camera", "ucsd_ped2"]
    assert discover_datasets(tmp_path / "ucsd_ped2") == [tmp_path / "ucsd_ped2"]


def test_no_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train/, test/ and test_labels.json"):
        discover_datasets(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        discover_datasets(tmp_path / "missing")


def test_robustness_rows_only_for_the_named_dataset(tmp_path: Path) -> None:
    _dataset(tmp_path, "ucsd_ped1")
    _dataset(tmp_path, "ucsd_ped2")
    rows = [(c.name, v.name) for c, v in suite_cameras(tmp_path)]
    assert rows == [
        ("ucsd_ped1", "plain"),
        ("ucsd_ped2", "plain"),
        ("ucsd_ped2", "half frame rate"),
        ("ucsd_ped2", "upscaled 2x"),
    ]
    assert len(suite_cameras(tmp_path, robustness=None)) == 2


def test_camera_scores_only_labelled_clips_and_refuses_unknown_names(tmp_path: Path) -> None:
    folder = _dataset(tmp_path, "cam", {"test_01": [0, 1], "test_02": [1, 1]})
    (folder / "test" / "unlabelled.mp4").write_bytes(b"")
    camera = dataset_camera(folder)
    assert [p.stem for p in camera.test] == ["test_01", "test_02"]
    assert [p.stem for p in dataset_camera(folder, ["test_02"]).test] == ["test_02"]
    with pytest.raises(ValueError, match="test_09"):
        dataset_camera(folder, ["test_09"])


def test_half_rate_keeps_every_second_frame_and_label() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    assert HALF_RATE.labels(labels).tolist() == [0, 1, 1]
    assert PLAIN.labels(labels, limit=3).tolist() == [0, 0, 1]


def _figures(auc: float | None, fps: float | None) -> dict:
    return {
        "auc": auc,
        "ap": 0.9,
        "mean_video_auc": 0.85,
        "per_video_auc": {},
        "fit_seconds": 12.345,
        "fit_cpu_seconds": 10.0,
        "scoring_fps": fps,
        "scoring_fps_cpu": 90.26,
    }


def test_table_has_one_row_per_dataset_and_variant_side_by_side() -> None:
    result = {
        "stage1_parts": ["pixel"],
        "rows": [
            {
                "dataset": "ucsd_ped1",
                "variant": "plain",
                "frames": 7200,
                "stage1": _figures(0.6721, 83.0),
                "reference": _figures(0.8414, None),
            }
        ],
    }
    (row,) = table_rows(result)
    assert len(row) == len(TABLE_HEADER)
    assert row == [
        "ucsd_ped1",
        "plain",
        "7200",
        "0.672",
        "0.900",
        "0.850",
        "12.3/10.0",
        "83/90",
        "0.841",
        "0.900",
        "0.850",
        "12.3/10.0",
        "-/90",
    ]
