"""Request rate limits: a fixed budget per key and minute, kept in this API process.

Two things are limited: failed token checks per client address (guessing tokens costs a database
round trip each, and a flood of them is an attack, not a mistake) and expensive reads such as
`/search` per token (one costs ~0.6 s of CPU). In-process is enough: one API process serves a
site, and a restart forgetting the counts only forgives a minute.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from fastapi import HTTPException


class RateLimiter:
    """At most `per_minute` events per key in any 60 s; `hit` raises 429 beyond."""

    def __init__(self, per_minute: int, what: str) -> None:
        self.per_minute = per_minute
        self.what = what
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one event for `key`; HTTPException(429) with Retry-After when over budget."""
        now = time.monotonic()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - 60.0:
                events.popleft()
            if len(events) >= self.per_minute:
                retry = max(1, math.ceil(events[0] + 60.0 - now))
                raise HTTPException(
                    429,
                    f"too many {self.what}: at most {self.per_minute} per minute",
                    headers={"Retry-After": str(retry)},
                )
            events.append(now)
            if len(self._events) > 10_000:  # forget idle keys so the map cannot grow unbounded
                for stale in [k for k, v in self._events.items() if not v or v[-1] < now - 60]:
                    del self._events[stale]

    def blocked(self, key: str) -> bool:
        """True when `key` has used its budget (without counting an event)."""
        now = time.monotonic()
        with self._lock:
            events = self._events.get(key)
            return bool(events) and sum(1 for t in events if t > now - 60.0) >= self.per_minute
