"""Tiny exported encoders shared by the encoder tests (built once per session, no download)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    from tests.support.tiny_models import need_export_extra, tiny_clip_dir

    need_export_extra()

    return tiny_clip_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def tiny_yolo(tmp_path_factory) -> Path:
    from tests.support.tiny_models import need_export_extra, tiny_yolo_dir

    need_export_extra("torch", "ultralytics")

    return tiny_yolo_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def ped2_frames(ped2: Path) -> list:
    """A dozen real Ped2 frames (BGR), spread over a test clip with a bicycle."""
    from vad.video import iter_video_frames

    frames = list(iter_video_frames(ped2 / "test" / "test_04.mp4"))
    return frames[:: max(1, len(frames) // 12)][:12]


@pytest.fixture(scope="session")
def tiny_mobilenet(tmp_path_factory) -> Path:
    from tests.support.tiny_models import need_export_extra, tiny_mobilenet_dir

    need_export_extra("torch")

    return tiny_mobilenet_dir(tmp_path_factory.mktemp("models"))
