"""Tiny stage-2 models (built once per session, no downloads) and real Ped2 frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from tests.support.requirements import missing
from tests.support.tiny_models import need_export_extra


@pytest.fixture(scope="session")
def stage2_model_dir(tmp_path_factory) -> Path:
    """A model folder as the product expects it: stage2/captioner, stage2/llm and
    encoders/clip-vit-b32 (a tiny CLIP under the default encoder name)."""
    need_export_extra()
    from tests.support.stage2_models import tiny_captioner_dir, tiny_llm_dir
    from tests.support.tiny_models import tiny_clip_dir

    root = tmp_path_factory.mktemp("stage2-models")
    tiny_captioner_dir(root / "stage2")
    tiny_llm_dir(root / "stage2")
    (root / "encoders").mkdir()
    tiny_clip_dir(root / "build").rename(root / "encoders" / "clip-vit-b32")
    return root


@pytest.fixture(scope="session")
def ped2_frames(ped2) -> list:
    """The first 20 frames (2 s at 10 fps) of Ped2 test_04 (a cart enters), BGR."""
    capture = cv2.VideoCapture(str(ped2 / "test" / "test_04.mp4"))
    frames = []
    while len(frames) < 20:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if len(frames) < 20:
        missing("Ped2 test_04.mp4 could not be decoded")
    return frames
