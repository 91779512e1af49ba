"""Key frames: the detector runs every n-th frame and on a changed view; the rest reuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vad.encoders.detectors import Detector
from vad.encoders.detectors.keyframes import detect_key_frames, key_frames
from vad.encoders.registry import SSD_OIDV4
from vad.video import iter_video_frames


def still(n: int) -> list[np.ndarray]:
    return [np.full((120, 180, 3), 90, np.uint8) for _ in range(n)]


def test_every_frame_when_every_is_one() -> None:
    assert key_frames(still(5), every=1, change=0.02) == [0, 1, 2, 3, 4]


def test_a_still_view_is_detected_every_nth_frame() -> None:
    assert key_frames(still(9), every=4, change=0.02) == [0, 0, 0, 0, 4, 4, 4, 4, 8]


def test_something_appearing_without_moving_is_detected_at_once() -> None:
    frames = still(8)
    for frame in frames[2:]:
        frame[30:70, 40:90] = 250  # a parked car: there from frame 2 on, never moving
    assert key_frames(frames, every=4, change=0.02) == [0, 0, 2, 2, 2, 2, 6, 6]


def test_slow_drift_adds_up_against_the_key_frame() -> None:
    frames = still(6)
    for i, frame in enumerate(frames):
        frame[:, : 10 * i] = 200  # a 10 px wider bright band each frame (5.6 % of the view)
    # each frame differs from the last by 5.6 %; at a 10 % threshold only the sum re-detects
    assert key_frames(frames, every=100, change=0.1) == [0, 0, 2, 2, 4, 4]


def test_detections_of_key_frames_are_the_detectors_own(real_ssd_dir: Path, ped2: Path) -> None:
    detector = Detector.load(real_ssd_dir / "encoders" / SSD_OIDV4, threads=1)
    frames = list(iter_video_frames(ped2 / "train" / "train_01.mp4"))[:10]
    found = detect_key_frames(detector, frames, every=4, change=0.02)
    source = key_frames(frames, every=4, change=0.02)
    assert len(found) == len(frames)
    assert source[0] == 0 and len(set(source)) < len(frames)
    alone = detector.detect([frames[k] for k in sorted(set(source))])
    expected = dict(zip(sorted(set(source)), alone, strict=True))
    assert found == [expected[k] for k in source]
    assert detect_key_frames(detector, frames, every=1, change=0.02) == detector.detect(frames)
