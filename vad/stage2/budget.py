"""Token bucket: at most `per_minute` stage-2 analyses per worker, `burst` back to back.

Over budget the caller drops the window (recorded as skipped) rather than queueing it: a backlog
of stale analyses is worth less than fresh ones, and stage 1 has already opened the incident.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.capacity = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()
        self.allowed = 0
        self.dropped = 0

    def try_acquire(self) -> bool:
        """Take one token if there is one; count the outcome either way."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self.allowed += 1
                return True
            self.dropped += 1
            return False
