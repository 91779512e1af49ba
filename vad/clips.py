"""Encoding a run of frames as a video clip (investigations export incidents this way).

OpenCV's bundled FFmpeg has no H.264 encoder: MP4 clips are MPEG-4 Part 2 (`mp4v`, plays in VLC,
ffplay and video tools); WebM clips are VP8, which every current browser plays (the dashboard).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

import cv2
import numpy as np

CONTAINERS = {"mp4": ("mp4v", "video/mp4"), "webm": ("VP80", "video/webm")}


def encode_mp4(frames: Iterable[np.ndarray], fps: float) -> bytes:
    return encode_clip(frames, fps, "mp4")


def encode_clip(frames: Iterable[np.ndarray], fps: float, container: str = "mp4") -> bytes:
    """Video bytes of `frames` (BGR, resized to the first frame's size); ValueError if empty."""
    fourcc, _ = CONTAINERS[container]
    writer: cv2.VideoWriter | None = None
    size: tuple[int, int] | None = None
    handle, path = tempfile.mkstemp(suffix=f".{container}")
    os.close(handle)
    try:
        for frame in frames:
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, size)
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {container} ({fourcc}) here")
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
