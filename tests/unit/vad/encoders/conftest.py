"""Tiny exported encoders shared by the encoder tests (built once per session, no download)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.support.requirements import missing


def _need_export_extra() -> None:
    for module in ("torch", "transformers"):
        if importlib.util.find_spec(module) is None:
            missing(f"{module} (the `export` extra) is needed to build tiny test models")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    _need_export_extra()
    from tests.support.tiny_models import tiny_clip_dir

    return tiny_clip_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def tiny_yolo(tmp_path_factory) -> Path:
    if importlib.util.find_spec("ultralytics") is None:
        missing("ultralytics (the `export` extra) is needed to build the tiny detector")
    from tests.support.tiny_models import tiny_yolo_dir

    return tiny_yolo_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def ped2_frames(ped2: Path) -> list:
    """A dozen real Ped2 frames (BGR), spread over a test clip with a bicycle."""
    from vad.video import iter_video_frames

    frames = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    return frames[:: max(1, len(frames) // 12)][:12]
