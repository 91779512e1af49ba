"""Collecting a camera's normal footage for `vad camera learn`, sampled exactly as ingest does.

The model must see frames at the camera's analysis rate and with the same static-frame pruning as
the live pipeline, otherwise motion statistics learned here would not match what it scores.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ingest.settings import IngestConfig
from ingest.sources import SourceError, VideoSource
from vad.address_policy import AddressPolicy
from vad.pruning import StaticFramePruner
from vad.sampling import AnalysisSampler, analysis_rate
from vad.video import TimedClip

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts"}


def footage_files(path: Path) -> list[Path]:
    """One file, or every video file in a folder (sorted), or a clear error."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        if files:
            return files
        raise ValueError(f"no video files ({', '.join(sorted(VIDEO_SUFFIXES))}) in {path}")
    raise ValueError(f"{path} does not exist")


def sampled_frames(
    source: VideoSource, fps: float, config: IngestConfig, until: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """(media time, image) of the frames kept by ingest's sampler (`AnalysisSampler`: the
    camera's analysis rate) and the pruner, until the source ends or `until`."""
    sampler = AnalysisSampler(fps, source.fps)
    pruner = StaticFramePruner.from_config(config)
    while until is None or time.monotonic() < until:
        frame = source.read()
        if frame is None:
            return
        if sampler.due(frame.pts) and pruner.keep(frame.image, frame.pts):
            yield frame.pts, frame.image


def file_clips(files: list[Path], fps: float, config: IngestConfig) -> Iterator[TimedClip]:
    """One clip per file, read lazily, as a camera set to `fps` analyses it."""
    for path in files:
        yield TimedClip(functools.partial(_file_frames, path, fps, config))


def _file_frames(
    path: Path, fps: float, config: IngestConfig, clip: TimedClip
) -> Iterator[tuple[float, np.ndarray]]:
    with VideoSource(
        str(path),
        open_timeout=config.open_timeout_seconds,
        read_timeout=max(config.read_timeout_seconds, 30.0),
    ) as source:
        clip.rate = analysis_rate(source.fps, fps)
        yield from sampled_frames(source, fps, config)


def live_clips(
    url: str,
    minutes: float,
    fps: float,
    config: IngestConfig,
    policy: AddressPolicy | None = None,
    verify_tls: bool = True,
) -> Iterator[TimedClip]:
    """The live stream's next `minutes`; a dropped connection ends one clip and the next starts
    after reconnecting, so motion is never computed across a gap. Connections go through the
    camera address `policy`, like ingest's."""
    until = time.monotonic() + minutes * 60
    while time.monotonic() < until:
        source = VideoSource(
            url,
            open_timeout=config.open_timeout_seconds,
            read_timeout=config.read_timeout_seconds,
            policy=policy,
            verify_tls=verify_tls,
        )
        try:
            source.open()
        except SourceError as error:
            if not error.retryable:
                raise
            time.sleep(config.backoff_initial_seconds)
            continue
        yield TimedClip(functools.partial(_until_failure, source, fps, config, until))


def _until_failure(
    source: VideoSource, fps: float, config: IngestConfig, until: float, clip: TimedClip
) -> Iterator[tuple[float, np.ndarray]]:
    clip.rate = analysis_rate(source.fps, fps)
    try:
        yield from sampled_frames(source, fps, config, until)
    except SourceError:
        return
    finally:
        source.close()


class EncoderRecorder:
    """Runs an encoder on the frames of `vad camera learn` as the normality fit reads them, so the
    footage is decoded once and every model learns from exactly the same frames.

    `run` maps a batch of frames to one output per frame (detections, tile embeddings); every
    `every`-th frame of a clip is encoded. `clips[c]` are the outputs of clip c once the clips
    have been consumed; `name` is the encoder's (the models fitted on them record it).
    """

    def __init__(
        self,
        name: str,
        run: Callable[[list[np.ndarray]], Sequence],
        batch_size: int,
        every: int = 1,
    ) -> None:
        self.name = name
        self.run = run
        self.batch_size = max(1, batch_size)
        self.every = max(1, every)
        self.clips: list[list] = []

    def wrap(self, clips: Iterable[Iterable[np.ndarray]]) -> Iterator[Iterator[np.ndarray]]:
        for clip in clips:
            yield self._clip(clip)

    def _clip(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        found: list = []
        self.clips.append(found)
        batch: list[np.ndarray] = []
        for i, frame in enumerate(frames):
            if i % self.every == 0:
                batch.append(frame)
            yield frame
            if len(batch) >= self.batch_size:
                found.extend(self.run(batch))
                batch = []
        if batch:
            found.extend(self.run(batch))
