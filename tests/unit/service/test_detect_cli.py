"""`vad detect VIDEO`: per-frame JSON with shared labels and pixel boxes, an annotated copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
from typer.testing import CliRunner

from service.cli import app


def _run(monkeypatch, model_dir: Path, *args: str):
    for key in [k for k in os.environ if k.startswith("VAD_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("VAD_MODEL_DIR", str(model_dir))
    return CliRunner().invoke(app, list(args))


def _clip(ped2: Path, folder: Path, frames: int = 20, start: int = 140) -> Path:
    """The stretch of test_04 where the cart and the cyclist are both in view."""
    from vad.video import iter_video_frames

    path = folder / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (360, 240))
    for i, frame in enumerate(iter_video_frames(ped2 / "test" / "test_04.mp4")):
        if start <= i < start + frames:
            writer.write(frame)
    writer.release()
    return path


def test_json_lines_and_annotated_video(monkeypatch, tmp_path, ped2, real_ssd_dir) -> None:
    clip = _clip(ped2, tmp_path)
    out = tmp_path / "annotated.mp4"
    result = _run(monkeypatch, real_ssd_dir, "detect", str(clip), "--json", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["frame"] for line in lines] == list(range(20))
    labels = {d["label"] for line in lines for d in line["detections"]}
    assert {"person", "vehicle"} <= labels and "Car" not in labels
    for d in (d for line in lines for d in line["detections"]):
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= 360 and 0 <= y1 < y2 <= 240 and 0 < d["score"] <= 1  # pixels
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
    capture.release()


def test_text_output_summarises_and_a_missing_model_says_how_to_install(
    monkeypatch, tmp_path, ped2, real_ssd_dir
) -> None:
    clip = _clip(ped2, tmp_path, frames=3)
    result = _run(monkeypatch, real_ssd_dir, "detect", str(clip))
    assert result.exit_code == 0, result.output
    assert "frame 0: person" in result.stdout
    summary = result.stdout.splitlines()[-1]
    assert summary.startswith("3 frames, detector ssd-mobilenetv2-oidv4: ")
    assert "person in 3" in summary
    missing = _run(monkeypatch, tmp_path / "empty", "detect", str(clip))
    assert missing.exit_code == 2
    assert "vad models pull ssd-mobilenetv2-oidv4 && vad models export" in missing.output
