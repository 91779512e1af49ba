"""Cutting one Kafka partition's interleaved camera frames into per-camera windows.

Pure bookkeeping, no I/O: the dispatcher feeds records in offset order and persists `snapshot()`
in the same transaction as the windows it emits, so a restart resumes exactly where the last
committed window left off: no window is lost and none is emitted twice.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    camera_id: int
    partition: int
    first_offset: int
    last_offset: int
    context_offset: int | None
    n_frames: int
    start_at: float
    end_at: float
    end_of_stream: bool = False


@dataclass
class _OpenWindow:
    first_offset: int
    last_offset: int
    start_at: float
    end_at: float
    n_frames: int
    context_offset: int | None
    touched_wall: float


class PartitionWindower:
    """Tracks the open window of every camera seen on one partition."""

    def __init__(
        self,
        partition: int,
        window_seconds: float,
        idle_flush_seconds: float,
        context_frames: int,
        camera_last: dict[int, int] | None = None,
        camera_context: dict[int, list[int]] | None = None,
    ) -> None:
        self.partition = partition
        self.window_seconds = window_seconds
        self.idle_flush_seconds = idle_flush_seconds
        self.context_frames = context_frames
        self.camera_last: dict[int, int] = dict(camera_last or {})
        self._context: dict[int, deque[int]] = {
            cam: deque(offsets, maxlen=max(context_frames, 1))
            for cam, offsets in (camera_context or {}).items()
        }
        self._open: dict[int, _OpenWindow] = {}
        self._pending: dict[int, list[int]] = {}
        self._high_water = -1

    def add(
        self, camera_id: int, offset: int, captured_at: float, now: float
    ) -> list[ClosedWindow]:
        """Feed one record; returns the windows this record closes (at most one)."""
        self._high_water = max(self._high_water, offset)
        if offset <= self.camera_last.get(camera_id, -1):
            return []  # dispatched before a restart
        closed: list[ClosedWindow] = []
        current = self._open.get(camera_id)
        if current is not None and (
            captured_at >= current.start_at + self.window_seconds or captured_at < current.end_at
        ):
            closed.append(self._close(camera_id))
            current = None
        if current is None:
            context = self._context.get(camera_id)
            self._open[camera_id] = _OpenWindow(
                offset,
                offset,
                captured_at,
                captured_at,
                1,
                context[0] if context and self.context_frames else None,
                now,
            )
        else:
            current.last_offset, current.end_at = offset, captured_at
            current.n_frames += 1
            current.touched_wall = now
        self._remember(camera_id, offset)
        return closed

    def end(self, camera_id: int, offset: int, captured_at: float) -> list[ClosedWindow]:
        """The camera's source ended at `offset` (a marker record, not a frame): close its window
        flagged as the last one, or emit an empty final window if none is open."""
        self._high_water = max(self._high_water, offset)
        if offset <= self.camera_last.get(camera_id, -1):
            return []
        if camera_id in self._open:
            window = dataclasses.replace(self._close(camera_id), end_of_stream=True)
        else:
            context = self._context.get(camera_id)
            window = ClosedWindow(
                camera_id,
                self.partition,
                offset,
                offset,
                context[0] if context and self.context_frames else None,
                0,
                captured_at,
                captured_at,
                end_of_stream=True,
            )
        self.camera_last[camera_id] = offset
        self._context.pop(camera_id, None)  # the next stream must not look back into this one
        return [window]

    def flush_idle(self, now: float) -> list[ClosedWindow]:
        """Close windows of cameras that went quiet, so their last frames get scored."""
        idle = [
            cam for cam, w in self._open.items() if now - w.touched_wall >= self.idle_flush_seconds
        ]
        return [self._close(cam) for cam in idle]

    def flush_all(self) -> list[ClosedWindow]:
        return [self._close(cam) for cam in list(self._open)]

    def safe_position(self) -> int:
        """Offset to resume from: the first record of any still-open window, else past the end."""
        if self._open:
            return min(w.first_offset for w in self._open.values())
        return self._high_water + 1

    def snapshot(self) -> tuple[dict[str, int], dict[str, list[int]]]:
        """JSON-friendly camera_last and camera_context, as persisted with each window."""
        return (
            {str(cam): off for cam, off in self.camera_last.items()},
            {str(cam): list(ctx) for cam, ctx in self._context.items()},
        )

    def _remember(self, camera_id: int, offset: int) -> None:
        """Offsets of the open window; they become look-back context once it closes, so the
        remembered context is always what precedes the next window."""
        self._pending.setdefault(camera_id, []).append(offset)

    def _close(self, camera_id: int) -> ClosedWindow:
        window = self._open.pop(camera_id)
        self.camera_last[camera_id] = window.last_offset
        offsets = [o for o in self._pending.pop(camera_id, []) if o <= window.last_offset]
        ctx = self._context.setdefault(camera_id, deque(maxlen=max(self.context_frames, 1)))
        ctx.extend(offsets)
        return ClosedWindow(
            camera_id,
            self.partition,
            window.first_offset,
            window.last_offset,
            window.context_offset,
            window.n_frames,
            window.start_at,
            window.end_at,
        )
