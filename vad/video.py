"""Reading video files frame by frame (OpenCV), for fitting and offline evaluation."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vad.sampling import analysis_rate, hold_scores, sample_stream


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


class TimedClip:
    """A clip read lazily, once, as a camera analyses it: iterating yields its images, and fills
    in `times` (each yielded frame's media time, seconds from the clip's first) and, once its
    source is open, `rate` (analysed frames per second, `vad.sampling.analysis_rate`).

    `read(clip)` gives (media time, image) pairs and may set `clip.rate`. Why: the clock of what
    is fitted on the clips (scene norms' speeds, stage-2 calibration windows) is the rate the
    camera is analysed at, which the stride rule sets from the source's rate (a 25 fps camera
    set to 10 is analysed at 8.3), not the camera's setting; it is known only once the source
    is open, and footage is never held in memory to learn it.
    """

    def __init__(self, read: Callable[[TimedClip], Iterator[tuple[float, np.ndarray]]]) -> None:
        self._read = read
        self.times: list[float] = []  # of the frames yielded by the latest pass
        self.rate: float | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        self.times, start = [], None
        for media_time, image in self._read(self):
            start = media_time if start is None else start
            self.times.append(media_time - start)
            yield image


@dataclass(frozen=True)
class AnalysedClip:
    """What a worker analyses of one clip: the frames kept at the analysis rate `fps`, each one's
    index among the `decoded` frames of the recording (made at `source_fps`; None = unknown)."""

    frames: list[np.ndarray]
    indices: list[int]
    decoded: int
    source_fps: float | None
    fps: float

    @property
    def rate(self) -> float:
        """Analysed frames per second (`vad.sampling.analysis_rate`: the recording's rate over the
        stride that comes closest to `fps`; the recording's if it is slower)."""
        return analysis_rate(self.source_fps, self.fps)

    def times(self) -> list[float]:
        """Media time of each analysed frame, seconds from the clip's start."""
        return [i / (self.source_fps or self.fps) for i in self.indices]

    def held(self, scores: Iterable[float]) -> np.ndarray:
        """Scores of the analysed frames -> one per decoded frame (`vad.sampling.hold_scores`)."""
        return hold_scores(list(scores), self.indices, self.decoded)


def analysed_clip(
    frames: Iterable[np.ndarray], source_fps: float | None, fps: float
) -> AnalysedClip:
    """The frames of a stream recorded at `source_fps` that a worker analysing at `fps` keeps
    (`vad.sampling.sample_stream`: ingest's rule; all of them when the stream is not faster)."""
    decoded = 0

    def counted() -> Iterator[np.ndarray]:
        nonlocal decoded
        for frame in frames:
            decoded += 1
            yield frame

    kept = list(sample_stream(counted(), source_fps, fps))
    return AnalysedClip([f for _, f in kept], [i for i, _ in kept], decoded, source_fps, fps)


def analysed_frames(path: Path | str, fps: float, limit: int | None = None) -> AnalysedClip:
    """The frames of a video file a worker analysing the camera at `fps` would score (media time
    from the container's frame rate), of its first `limit` decoded frames (None = all).

    Fitting and evaluation read footage through this, so a 25 fps file is learned and scored at
    the camera's analysis rate (every k-th frame, `vad.sampling.analysis_stride`), as ingest
    samples it, not at the recording's."""
    frames = itertools.islice(iter_video_frames(path), limit)
    return analysed_clip(frames, video_info(path).fps or None, fps)
