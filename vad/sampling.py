"""Sampling a source down to the camera's analysis frame rate, by media time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

T = TypeVar("T")


@dataclass
class FpsSampler:
    """Keeps frames so that kept frames are at least 1/fps apart in media time.

    Uses a due time that advances by whole periods, so 25 fps sampled to 10 fps keeps 10 frames a
    second on average instead of drifting to 12.5 or 8.3.
    """

    fps: float
    _next_due: float | None = field(default=None, repr=False)

    def due(self, media_time: float) -> bool:
        period = 1.0 / self.fps
        tolerance = period * 0.05
        if self._next_due is None or media_time + tolerance >= self._next_due:
            if self._next_due is None or media_time - self._next_due > period:
                self._next_due = media_time
            self._next_due += period
            return True
        return False


def sample_by_media_time(
    frames: Iterable[T], source_fps: float | None, fps: float
) -> Iterator[tuple[int, T]]:
    """(index, frame) of the frames ingest's `FpsSampler` at `fps` keeps from a stream recorded at
    `source_fps` (frame i at media time i / source_fps), i.e. what a worker analyses of it.

    A stream at or below `fps`, or of unknown rate (0 / None: nothing to sample by), is kept
    whole, frame for frame: sampling never invents or repeats frames.
    """
    if not source_fps or source_fps <= fps:
        yield from enumerate(frames)
        return
    sampler = FpsSampler(fps)
    for index, frame in enumerate(frames):
        if sampler.due(index / source_fps):
            yield index, frame


def hold_scores(scores: Sequence[float], indices: Sequence[int], length: int) -> np.ndarray:
    """Per decoded frame 0..length-1, the score in force at its time: that of the latest analysed
    frame (`indices`, increasing, with its `scores`) at or before it, as the worker would have
    shown it (causal). Frames before the first analysed one have none (NaN).

    So frames the sampler skipped are still judged, with their labels: figures stay per decoded
    frame and comparable across frame rates.
    """
    scores, indices = np.asarray(scores), np.asarray(indices, dtype=np.int64)
    if len(scores) != len(indices):
        raise ValueError(f"{len(scores)} scores for {len(indices)} analysed frames")
    if len(indices) and (np.any(np.diff(indices) <= 0) or indices[0] < 0):
        raise ValueError("analysed frame indices must be increasing and non-negative")
    latest = np.searchsorted(indices, np.arange(length), side="right") - 1
    if np.all(latest >= 0):
        return scores[latest]
    held = np.full(length, np.nan)
    held[latest >= 0] = scores[latest[latest >= 0]]
    return held
