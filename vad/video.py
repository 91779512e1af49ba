"""Reading video files frame by frame (OpenCV), for fitting and offline evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """Container-reported properties; frame_count may be approximate for some codecs."""

    fps: float
    frame_count: int
    width: int
    height: int


def _open(path: Path | str) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f"cannot open video {path}")
    return cap


def iter_video_frames(path: Path | str) -> Iterator[np.ndarray]:
    """Yield BGR uint8 frames in decode order; frame i here is frame i of the labels."""
    cap = _open(path)
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def video_info(path: Path | str) -> VideoInfo:
    cap = _open(path)
    try:
        return VideoInfo(
            fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            frame_count=int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()
