"""Encoding a run of frames as a video clip (investigations export incidents this way).

OpenCV's bundled FFmpeg has no H.264 encoder: MP4 clips are MPEG-4 Part 2 (`mp4v`, plays in VLC,
ffplay and video tools); WebM clips are VP8, which every current browser plays (the dashboard).
Frames go to the encoder one by one (`ClipFile`), so a clip never holds its decoded frames in
memory: the API streams the finished file out.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

CONTAINERS = {"mp4": ("mp4v", "video/mp4"), "webm": ("VP80", "video/webm")}


class ClipFile:
    """A clip being written to a temporary file, frame by frame (BGR, resized to the first
    frame's size). `finish()` returns its path; the caller deletes it (`discard()`)."""

    def __init__(self, fps: float, container: str = "mp4") -> None:
        self.fourcc, _ = CONTAINERS[container]
        self.fps = fps
        self.container = container
        handle, name = tempfile.mkstemp(suffix=f".{container}")
        os.close(handle)
        self.path = Path(name)
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            self._size = (frame.shape[1], frame.shape[0])
            codec = cv2.VideoWriter_fourcc(*self.fourcc)
            self._writer = cv2.VideoWriter(str(self.path), codec, self.fps, self._size)
            if not self._writer.isOpened():
                raise RuntimeError(f"OpenCV cannot write {self.container} ({self.fourcc}) here")
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size)
        self._writer.write(frame)
        self.frames += 1

    def finish(self) -> Path:
        """Close the file; ValueError if no frame was written."""
        if self._writer is None:
            raise ValueError("no frames to encode")
        self._writer.release()
        return self.path

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
        self.path.unlink(missing_ok=True)


def encode_mp4(frames: Iterable[np.ndarray], fps: float) -> bytes:
    return encode_clip(frames, fps, "mp4")


def encode_clip(frames: Iterable[np.ndarray], fps: float, container: str = "mp4") -> bytes:
    """Video bytes of `frames` (BGR, resized to the first frame's size); ValueError if empty."""
    clip = ClipFile(fps, container)
    try:
        for frame in frames:
            clip.write(frame)
        return clip.finish().read_bytes()
    finally:
        clip.discard()
