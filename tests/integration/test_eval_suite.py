"""`vad eval suite` end to end on a tiny dataset cut from real Ped2 clips (seconds, not minutes)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from service.cli import app
from vad.scoring.look_ahead import look_ahead, media_times

pytestmark = pytest.mark.integration

# (source clip, first frame, end frame): two short normal clips, two test cuts with both classes
TRAIN = (("train_01", 0, 40), ("train_02", 0, 40))
TEST = (("test_01", 40, 100), ("test_04", 0, 60))


def _cut(source: Path, target: Path, start: int, stop: int) -> None:
    capture = cv2.VideoCapture(str(source))
    frames = []
    while len(frames) < stop:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    frames = frames[start:stop]
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()


@pytest.fixture(scope="module")
def mini_data(ped2: Path, tmp_path_factory) -> Path:
    """data/ped2_mini (train/, test/, test_labels.json, Ped2's clips cut short) and data/uca
    (not a dataset: text only)."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "ped2_mini"
    (folder / "train").mkdir(parents=True)
    (folder / "test").mkdir()
    for name, start, stop in TRAIN:
        _cut(ped2 / "train" / f"{name}.mp4", folder / "train" / f"{name}.mp4", start, stop)
    labels = json.loads((ped2 / "test_labels.json").read_text())["videos"]
    videos = {}
    for name, start, stop in TEST:
        _cut(ped2 / "test" / f"{name}.mp4", folder / "test" / f"{name}.mp4", start, stop)
        videos[name] = {"labels": labels[name]["labels"][start:stop]}
    (folder / "test_labels.json").write_text(json.dumps({"fps": 10, "videos": videos}))
    (root / "uca").mkdir()
    return root


def _invoke(monkeypatch, model_dir: Path, *args: str, env: dict[str, str] | None = None):
    for key in [k for k in os.environ if k.startswith("VAD_")]:
        monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VAD_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("VAD_ENCODERS__THREADS", "1")
    return CliRunner().invoke(app, ["eval", *args])


def test_suite_table_json_and_scores_of_stage1_and_the_reference(
    monkeypatch, mini_data: Path, tmp_path: Path
) -> None:
    scores = tmp_path / "scores"
    args = ["suite", "--data", str(mini_data), "--robustness", "ped2_mini"]
    result = _invoke(monkeypatch, tmp_path / "no-models", *args, "--json", "--scores-out", scores)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout[result.stdout.index("{") :])
    assert doc["stage1_parts"] == ["pixel", "velocity"]
    assert [(r["dataset"], r["variant"]) for r in doc["rows"]] == [
        ("ped2_mini", "plain"),
        ("ped2_mini", "half frame rate"),
        ("ped2_mini", "double frame rate"),
        ("ped2_mini", "upscaled 2x"),
        ("ped2_mini", "camera shake"),
    ]
    plain, half, double, _, _ = doc["rows"]
    assert plain["frames"] == 120 and half["frames"] == 60 and plain["videos"] == 2
    rates = [(r["camera_fps"], r["analysed_fps"]) for r in doc["rows"]]
    assert rates == [(10.0, 10.0), (5.0, 5.0), (20.0, 10.0), (10.0, 10.0), (10.0, 10.0)]
    # every frame twice at 20 fps, analysed at 10: the plain row's frames, each label twice
    assert double["frames"] == 240 and double["analysed_frames"] == plain["analysed_frames"]
    for side in ("stage1", "reference"):
        for key in ("auc", "ap", "mean_video_auc", "per_video_auc"):
            assert double[side][key] == plain[side][key], (side, key)
    assert double["stage1"]["term_auc"] == plain["stage1"]["term_auc"]
    for side in ("stage1", "reference"):
        figures = plain[side]
        assert 0.5 < figures["auc"] <= 1.0 and 0.0 < figures["ap"] <= 1.0
        assert set(figures["per_video_auc"]) == {"test_01", "test_04"}
        assert figures["fit_seconds"] > 0 and figures["scoring_fps"] > 0
    assert set(plain["stage1"]["term_auc"]) == {"pixel", "velocity"}

    folder = scores / "ped2_mini" / "half-frame-rate"
    written = {p.name for p in folder.iterdir()}
    assert written == {
        "labels.npz",
        "stage1.npz",
        "stage1-pixel.npz",
        "stage1-velocity.npz",
        "reference.npz",
        "row.json",
    }
    assert json.loads((folder / "row.json").read_text()) == half
    labels, reference = np.load(folder / "labels.npz"), np.load(folder / "reference.npz")
    assert [len(reference[k]) for k in ("test_01", "test_04")] == [30, 30]
    assert (
        labels["test_04"].tolist()
        == json.loads((mini_data / "ped2_mini" / "test_labels.json").read_text())["videos"][
            "test_04"
        ]["labels"][::2]
    )

    table = _invoke(monkeypatch, tmp_path / "no-models", *args[:3], "--robustness", "")
    assert table.exit_code == 0, table.output
    assert "stage 1 = pixel" in table.stdout and "reference AUC" in table.stdout
    assert "upscaled" not in table.stdout


def test_ped2_alias_scores_the_installed_models_without_a_flag(
    monkeypatch, mini_data: Path, tmp_path: Path
) -> None:
    """With the appearance encoder installed, `vad eval ped2` fuses it as the worker would."""
    from tests.support.tiny_models import need_export_extra, tiny_mobilenet_dir

    need_export_extra("torch")
    model_dir = tmp_path / "models"
    shutil.copytree(tiny_mobilenet_dir(tmp_path / "build"), model_dir / "encoders" / "mobilenetv2")
    data = mini_data / "ped2_mini"
    appearance_on = {"VAD_APPEARANCE__ENABLED": "true"}  # off by default since the object round
    result = _invoke(
        monkeypatch, model_dir, "ped2", "--data", str(data), "--json", env=appearance_on
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout[result.stdout.index("{") :])["rows"]
    assert row["stage1"]["parts"] == ["pixel", "velocity", "appearance (tiny-mobilenet)"]
    assert set(row["stage1"]["term_auc"]) == {"pixel", "velocity", "appearance"}
    assert row["reference"]["auc"] is not None

    missing = _invoke(monkeypatch, tmp_path / "none", "ped2", "--data", str(data), "--appearance")
    assert missing.exit_code == 2 and "vad models pull mobilenetv2" in missing.output


def test_every_installed_model_is_fitted_and_fused_by_max(mini_data: Path, tmp_path: Path) -> None:
    """Detector, appearance encoder and CLIP installed: stage 1 fuses the object, appearance and
    zero-shot terms with the pixel model, the largest per frame, as the worker does."""
    from service.settings import Settings
    from tests.support.tiny_models import (
        need_export_extra,
        tiny_clip_dir,
        tiny_mobilenet_dir,
        tiny_yolo_dir,
    )
    from vad.eval.stage1 import Stage1, installed_encoders
    from vad.eval.suite import PLAIN, dataset_camera

    need_export_extra("torch", "transformers", "ultralytics")
    build, models = tmp_path / "build", tmp_path / "models" / "encoders"
    models.mkdir(parents=True)
    for built, name in (
        (tiny_clip_dir(build), "clip-vit-b32"),
        (tiny_yolo_dir(build), "yolo11n"),
        (tiny_mobilenet_dir(build), "mobilenetv2"),
    ):
        shutil.copytree(built, models / name)
    settings = Settings(
        model_dir=tmp_path / "models",
        encoders={"threads": 1, "detector": "yolo11n"},
        appearance={"enabled": True},
    )
    encoders = installed_encoders(settings)
    assert encoders.off == {}
    stage1 = Stage1(settings, encoders)
    assert [p.split(" ")[0] for p in stage1.parts] == [
        "pixel",
        "velocity",
        "objects",
        "appearance",
        "zero-shot",
    ]
    camera = dataset_camera(mini_data / "ped2_mini", fps=10.0)
    stage1.fit(PLAIN.clip(p, camera.fps).frames for p in camera.train)
    # per training clip, per frame (key-frame detections reused): what `vad eval stage2` reuses
    assert [len(d) for d in stage1.train_detections] == [40, 40]
    clip = PLAIN.clip(camera.test[0], camera.fps)
    scored = stage1.score(clip.frames, clip.rate)
    assert set(scored.terms) == {"pixel", "velocity", "objects", "appearance", "zero-shot"}
    stacked = np.stack(list(scored.terms.values()))
    assert scored.fused.shape == (60,)
    # the max of the terms, then the look-ahead the worker applies (vad.scoring.look_ahead)
    ahead = look_ahead(
        stacked.max(axis=0), media_times(60, clip.rate), settings.scoring.look_ahead_seconds
    )
    assert np.allclose(scored.fused, ahead, equal_nan=True)
