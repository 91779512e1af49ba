"""Reading a video file as a worker analyses it: the analysis rate's stride (synthetic
files written here, a few dozen small frames)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vad.sampling import AnalysisSampler
from vad.video import analysed_clip, analysed_frames, iter_video_frames, video_info


def _video(path: Path, fps: float, frames: int) -> Path:
    """Frame i is a grey level 4 * i (so a decoded frame tells its index)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 24))
    for i in range(frames):
        writer.write(np.full((24, 32, 3), 4 * i, np.uint8))
    writer.release()
    return path


def _index(frame: np.ndarray) -> int:
    return round(float(frame.mean()) / 4)


def test_a_25_fps_file_is_analysed_every_third_frame_on_a_10_fps_camera(tmp_path: Path) -> None:
    path = _video(tmp_path / "cam.avi", 25, 50)
    assert video_info(path).fps == pytest.approx(25)
    clip = analysed_frames(path, 10.0)
    sampler = AnalysisSampler(10.0, video_info(path).fps)
    assert clip.indices == [i for i in range(50) if sampler.due(i / 25)] == list(range(0, 50, 3))
    assert [_index(f) for f in clip.frames] == clip.indices
    assert clip.decoded == 50 and len(clip.frames) == 17 and clip.rate == pytest.approx(25 / 3)
    assert clip.times()[:3] == pytest.approx([0.0, 0.12, 0.24])
    held = clip.held(np.arange(17, dtype=float))
    assert len(held) == 50 and held[:7].tolist() == [0, 0, 0, 1, 1, 1, 2]


def test_a_file_at_or_below_the_analysis_rate_is_read_whole(tmp_path: Path) -> None:
    path = _video(tmp_path / "cam.avi", 10, 30)
    clip = analysed_frames(path, 10.0)
    assert clip.indices == list(range(30)) and clip.rate == 10.0
    for kept, decoded in zip(clip.frames, iter_video_frames(path), strict=True):
        np.testing.assert_array_equal(kept, decoded)
    scores = np.linspace(0, 1, 30)
    np.testing.assert_array_equal(clip.held(scores), scores)
    assert analysed_frames(path, 25.0).rate == 10.0  # never faster than the recording


def test_limit_counts_decoded_frames(tmp_path: Path) -> None:
    clip = analysed_frames(_video(tmp_path / "cam.avi", 25, 50), 10.0, limit=10)
    assert clip.decoded == 10 and clip.indices == [0, 3, 6, 9]


def test_unknown_source_rate_keeps_every_frame() -> None:
    clip = analysed_clip(iter([np.zeros((2, 2))] * 7), None, 10.0)
    assert clip.indices == list(range(7)) and clip.rate == 10.0
