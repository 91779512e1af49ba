"""Sampling a source down to the camera's analysis frame rate, by media time."""

from __future__ import annotations

from dataclasses import dataclass, field


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
