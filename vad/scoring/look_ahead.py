"""Look-ahead: a frame's stage-1 score is final only once the frames just after it are scored.

Why: every stage-1 model smooths its novelty causally (a frame's score depends on it and earlier
frames), so the fused score rises after an event starts and lingers after it ends. The issue's
reference and the research systems smooth with a centred window instead. Averaging each fused
score with those of the next `seconds` of frames moves the onset back and shortens the tail, at
the price of that much latency (measured in docs/benchmarks-normality.md, "Look-ahead round").

The window is in capture time, so it holds seconds x rate frames at the analysis rate (2 at
0.2 s and 10 fps) and needs no rate: the worker passes the frames' capture times, `vad eval` the
analysed frames' media times. Where fewer frames follow (the end of a clip, a stream's end, a
camera that went quiet), the window shrinks to what exists, so the worker never waits for
frames that will not come. The worker (`workers/tasks.py`), `vad eval` (`vad/eval/stage1.py`)
and `bench/` all call `look_ahead`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Capture times are floats (i / rate in eval, camera clocks live): a frame this close past the
# window's end still counts, so 0.2 s at 10 fps is exactly two frames.
TOLERANCE_SECONDS = 1e-3


def look_ahead(
    scores: Sequence[float] | np.ndarray, times: Sequence[float] | np.ndarray, seconds: float
) -> np.ndarray:
    """Each frame's score averaged with the scores of the frames captured up to `seconds` after
    it (a box window; NaN neighbours ignored, a NaN frame stays NaN). `times` are the frames'
    capture times in seconds, ascending; `seconds` <= 0 returns the scores unchanged."""
    x = np.asarray(scores, dtype=np.float64).ravel()
    t = np.asarray(times, dtype=np.float64).ravel()
    if x.shape != t.shape:
        raise ValueError(f"{x.size} scores but {t.size} times")
    if seconds <= 0 or x.size == 0:
        return x.copy()
    valid = np.isfinite(x)
    sums = np.concatenate([[0.0], np.cumsum(np.where(valid, x, 0.0))])
    counts = np.concatenate([[0], np.cumsum(valid)])
    ends = np.searchsorted(t, t + seconds + TOLERANCE_SECONDS, side="right")
    ends = np.maximum(ends, np.arange(x.size) + 1)  # a clock step back: at least the frame
    starts = np.arange(x.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (sums[ends] - sums[starts]) / (counts[ends] - counts[starts])
    out[~valid] = np.nan
    return out


def media_times(n: int, rate: float) -> np.ndarray:
    """The media times of `n` frames analysed at `rate` per second (what `vad eval` scores)."""
    return np.arange(n, dtype=np.float64) / rate
