"""Which frames of a source a camera analyses: the analysis rate and the one rule that reaches it.

Every path that turns footage into analysed frames goes through `AnalysisSampler` (ingest, `vad
camera learn`, every `vad eval`), so fit, scoring and evaluation always see the same steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# The stride trusts the announced rate while the frames of every `_RATE_WINDOW_SECONDS` of media
# time come within `_RATE_TOLERANCE` of it: long enough that a live camera's jitter, a stall and
# the burst after it, or a few lost frames hardly move the count; loose enough for a clock a
# little off; tight enough to catch a camera sending half or two thirds of what it announces.
_RATE_WINDOW_SECONDS = 10.0
_RATE_TOLERANCE = 0.2


def analysis_stride(source_fps: float | None, fps: float) -> int | None:
    """How many source frames one analysis step spans: every k-th frame is analysed. None when
    the source's rate is unknown (nothing to count by); 1 when it is at or below `fps`.

    k is the whole number whose rate source_fps / k is closest to the target `fps` in ratio
    (of k = floor(r) and k + 1, r = source_fps / fps, the one with the smaller r / k or k / r;
    a tie takes the smaller k). Why a stride: sampling 25 fps by media time at 10 fps keeps
    steps of 0.12 and 0.08 s in turn, so the flow of a constant speed swings +-20 % from step to
    step on the cameras that are faster than the target; every k-th frame makes every step the
    same media time. Why the closest ratio: the flow per step, which the pixel and velocity
    models' defaults were chosen on at 10 fps, scales with 1 / rate, so the ratio is the error
    that matters; it is at most sqrt((j + 1) / j) either way, j = floor(r): sqrt(2) for a source
    between one and two times the target, sqrt(3/2) up to three times, and so on (at a target of
    10: 25 -> 8.3, 30 -> 10, 12.5 -> 12.5, 15 -> 7.5, 24 -> 12, 50 -> 10). A rate closer to the
    target than that needs frames the source does not have, or uneven steps.
    """
    if not source_fps or source_fps <= 0:
        return None
    if source_fps <= fps:
        return 1
    ratio = source_fps / fps
    k = math.floor(ratio)
    return k if ratio * ratio <= k * (k + 1) else k + 1


def analysis_rate(source_fps: float | None, fps: float) -> float:
    """Analysed frames per second of a source at `source_fps` on a camera set to `fps`: the
    source's rate over `analysis_stride`, or `fps` when the source's rate is unknown."""
    stride = analysis_stride(source_fps, fps)
    return fps if stride is None else source_fps / stride


@dataclass(frozen=True, slots=True)
class CameraRates:
    """A camera's frame rates as an operator reads them (API, `vad camera list`, `/metrics`).

    `setting` is the rate the camera is set to (its own, else the service default); `source`
    the rate its source announced at its latest connection (None: unknown, or never connected);
    `analysed` the frames per second actually analysed, by `analysis_stride` (every `stride`-th
    frame; None: the source's rate is unknown and frames are kept by media time at `setting`).
    Why both: a 25 fps camera set to 10 is analysed at 8.33 fps, and that rate, not the setting,
    is what its models were fitted at and what its CPU costs.
    """

    setting: float
    source: float | None
    analysed: float
    stride: int | None


def camera_rates(setting: float, source_fps: float | None) -> CameraRates:
    """The rates of a camera set to `setting` whose source announced `source_fps`."""
    source = source_fps if source_fps and source_fps > 0 else None
    return CameraRates(
        setting, source, analysis_rate(source, setting), analysis_stride(source, setting)
    )


@dataclass
class FpsSampler:
    """Keeps frames so that kept frames are at least 1/fps apart in media time.

    Uses a due time that advances by whole periods, so 25 fps sampled to 10 fps keeps 10 frames a
    second on average instead of drifting to 12.5 or 8.3. The steps are uneven when the period is
    not a whole number of source frames: `AnalysisSampler` uses this only where it cannot count.
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


class AnalysisSampler:
    """The frames a camera set to `fps` analyses of one stream (one connection, one file) whose
    announced rate is `source_fps` (None: unknown). Feed it every decoded frame's media time.

    Known rate: every `analysis_stride`-th frame, counted from the first, so every step is the
    same media time. Counting ignores a live camera's arrival clock (its pts: tens of ms of
    network jitter, bursts after a stall) and a lost frame only lengthens one step. It holds while
    the source keeps its announced rate, checked over every ~10 s of media time (frames counted
    within 20 %); a camera that sends fewer frames than it announces (night modes) or a
    variable-rate file fails that, and the rest of the stream is sampled by media time
    (`FpsSampler`) at the same `rate`: the steps are uneven but the rate, which the camera's
    models were fitted at, does not change. Unknown rate (MJPEG over HTTP): by media time at
    `fps`, as before strides.
    """

    def __init__(self, fps: float, source_fps: float | None) -> None:
        self.stride = analysis_stride(source_fps, fps)
        self.rate = analysis_rate(source_fps, fps)
        self.source_fps = source_fps
        self.by_time: FpsSampler | None = FpsSampler(fps) if self.stride is None else None
        self._count = 0
        self._window: tuple[int, float] | None = None  # (frame number, media time) it began at
        self._last_kept = 0.0

    @property
    def counting(self) -> bool:
        """True while frames are kept by count (even steps), False once by media time."""
        return self.by_time is None

    def due(self, media_time: float) -> bool:
        if self.by_time is not None:
            return self.by_time.due(media_time)
        n, self._count = self._count, self._count + 1
        if self._window is None:
            self._window = (n, media_time)
        elif media_time - self._window[1] >= _RATE_WINDOW_SECONDS:
            if not self._kept_announced_rate(n, media_time):
                self.by_time = FpsSampler(self.rate, _next_due=self._last_kept + 1.0 / self.rate)
                return self.by_time.due(media_time)
            self._window = (n, media_time)
        if n % self.stride:
            return False
        self._last_kept = media_time
        return True

    def _kept_announced_rate(self, n: int, media_time: float) -> bool:
        first, start = self._window
        measured = (n - first) / (media_time - start)
        return abs(measured / self.source_fps - 1.0) <= _RATE_TOLERANCE


def sample_stream(
    frames: Iterable[T], source_fps: float | None, fps: float
) -> Iterator[tuple[int, T]]:
    """(index, frame) of the frames a camera set to `fps` analyses of a recording made at
    `source_fps` (frame i at media time i / source_fps): `AnalysisSampler`, i.e. what ingest
    would hand a worker of it.

    A recording of unknown rate (0 / None) has no media time to sample by and is kept whole,
    frame for frame: sampling never invents or repeats frames.
    """
    if not source_fps:
        yield from enumerate(frames)
        return
    sampler = AnalysisSampler(fps, source_fps)
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
