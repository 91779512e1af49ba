"""`vad eval suite` without footage: which folders are datasets, the variants, the table."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vad.eval.suite import (
    DOUBLE_RATE,
    HALF_RATE,
    PLAIN,
    SHAKE,
    TABLE_HEADER,
    UPSCALED,
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
    cameras = suite_cameras(tmp_path, fps=10.0)
    assert [(c.name, v.name) for c, v in cameras] == [
        ("ucsd_ped1", "plain"),
        ("ucsd_ped2", "plain"),
        ("ucsd_ped2", "half frame rate"),
        ("ucsd_ped2", "double frame rate"),
        ("ucsd_ped2", "upscaled 2x"),
        ("ucsd_ped2", "camera shake"),
    ]
    assert {c.fps for c, _ in cameras} == {10.0}
    assert len(suite_cameras(tmp_path, robustness=None, fps=10.0)) == 2


def test_camera_scores_only_labelled_clips_and_refuses_unknown_names(tmp_path: Path) -> None:
    folder = _dataset(tmp_path, "cam", {"test_01": [0, 1], "test_02": [1, 1]})
    (folder / "test" / "unlabelled.mp4").write_bytes(b"")
    camera = dataset_camera(folder, fps=10.0)
    assert [p.stem for p in camera.test] == ["test_01", "test_02"]
    assert [p.stem for p in dataset_camera(folder, ["test_02"], fps=10.0).test] == ["test_02"]
    with pytest.raises(ValueError, match="test_09"):
        dataset_camera(folder, ["test_09"], fps=10.0)


def test_half_rate_keeps_every_second_frame_and_label() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    assert HALF_RATE.labels(labels).tolist() == [0, 1, 1]
    assert PLAIN.labels(labels, limit=3).tolist() == [0, 0, 1]
    assert DOUBLE_RATE.labels(labels, limit=3).tolist() == [0, 0, 0, 0, 1, 1]


def _recording(path: Path, fps: float, frames: int) -> Path:
    """Frame i is a grey level 4 * i (so a decoded frame tells its index)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 24))
    for i in range(frames):
        writer.write(np.full((24, 32, 3), 4 * i, np.uint8))
    writer.release()
    return path


def _indices(frames: list[np.ndarray]) -> list[int]:
    return [round(float(f.mean()) / 4) for f in frames]


def test_each_variant_is_a_camera_at_its_own_rate_analysed_at_the_analysis_rate(
    tmp_path: Path,
) -> None:
    path = _recording(tmp_path / "cam.avi", 10, 20)
    plain = PLAIN.clip(path, 10.0)
    assert _indices(plain.frames) == list(range(20)) and plain.source_fps == pytest.approx(10)
    half = HALF_RATE.clip(path, 10.0)  # a 5 fps camera: the sampler keeps all of it
    assert _indices(half.frames) == list(range(0, 20, 2)) and half.decoded == 10
    assert half.source_fps == pytest.approx(5) and half.rate == pytest.approx(5)
    double = DOUBLE_RATE.clip(path, 10.0)  # 20 fps, every frame twice: back to the recording
    assert _indices(double.frames) == list(range(20)) and double.decoded == 40
    assert double.source_fps == pytest.approx(20) and double.rate == 10.0
    held = double.held(np.arange(20.0))
    assert held.tolist() == np.repeat(np.arange(20.0), 2).tolist()
    big = UPSCALED.clip(path, 10.0, limit=4)
    assert [f.shape for f in big.frames] == [(48, 64, 3)] * 4 and big.decoded == 4
    shaky = SHAKE.clip(path, 10.0, limit=5)
    assert shaky.indices == list(range(5)) and [f.shape for f in shaky.frames] == [(24, 32, 3)] * 5
    slow = PLAIN.clip(path, 4.0, limit=10)  # a camera set to 4 fps keeps every 3rd of 10 fps
    assert slow.indices == [0, 3, 6, 9] and slow.rate == pytest.approx(10 / 3)


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
                "camera_fps": 25.0,
                "analysed_fps": 10.0,
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
        "25/10",
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
