"""Encoding a run of frames as an MP4 clip (investigations export incidents this way).

OpenCV's bundled FFmpeg writes MPEG-4 Part 2 (`mp4v`) only; it plays in VLC, ffplay and video
tools, not in every browser (the dashboard shows frames instead).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

import cv2
import numpy as np


def encode_mp4(frames: Iterable[np.ndarray], fps: float) -> bytes:
    """MP4 bytes of `frames` (BGR, resized to the first frame's size); ValueError if empty."""
    writer: cv2.VideoWriter | None = None
    size: tuple[int, int] | None = None
    handle, path = tempfile.mkstemp(suffix=".mp4")
    os.close(handle)
    try:
        for frame in frames:
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                if not writer.isOpened():
                    raise RuntimeError("OpenCV cannot write MP4 (mp4v) here")
            if (frame.shape[1], frame.shape[0]) != size:
                frame = cv2.resize(frame, size)
            writer.write(frame)
        if writer is None:
            raise ValueError("no frames to encode")
        writer.release()
        with open(path, "rb") as file:
            return file.read()
    finally:
        os.unlink(path)
