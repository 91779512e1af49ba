"""Cutting one Kafka partition's interleaved camera frames into per-camera windows.

Pure bookkeeping, no I/O: the dispatcher feeds records in offset order and persists `snapshot()`
in the same transaction as the windows it emits, so a restart resumes exactly where the last
committed window left off: no window is lost and none is emitted twice.

Look-ahead (`scoring.look_ahead_seconds`, `vad.scoring.look_ahead`): a window's last frames are
scored with the frames captured just after them, so a cut window waits until the camera's next
frames cover that span (`ahead_offset`: the last of them), or until its stream ends or goes
quiet (then with what arrived). A waiting window counts as open for the resume position and the
snapshot, so a restart cuts it again from the log.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

# capture times are floats: a frame this close past a window's look-ahead completes it, as
# vad.scoring.look_ahead counts it
from vad.scoring.look_ahead import TOLERANCE_SECONDS


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
    ahead_offset: int | None = None  # the last frame after the window scored with it


@dataclass
class _Waiting:
    """A cut window waiting for its look-ahead frames, with the camera's look-back context as
    it stands after the window (what the snapshot says once the window is emitted)."""

    window: ClosedWindow
    context: list[int]


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
        look_ahead_seconds: float = 0.0,
    ) -> None:
        self.partition = partition
        self.window_seconds = window_seconds
        self.idle_flush_seconds = idle_flush_seconds
        self.context_frames = context_frames
        self.look_ahead_seconds = look_ahead_seconds
        self.camera_last: dict[int, int] = dict(camera_last or {})
        self._context: dict[int, deque[int]] = {
            cam: deque(offsets, maxlen=max(context_frames, 1))
            for cam, offsets in (camera_context or {}).items()
        }
        # the context as of each camera's last emitted window: what a restart resumes with
        self._emitted_context: dict[int, list[int]] = {
            cam: list(ctx) for cam, ctx in self._context.items()
        }
        self._open: dict[int, _OpenWindow] = {}
        self._waiting: dict[int, list[_Waiting]] = {}
        self._seen: dict[int, int] = {}  # each camera's latest frame offset
        self._pending: dict[int, list[int]] = {}
        self._high_water = -1

    def add(
        self, camera_id: int, offset: int, captured_at: float, now: float
    ) -> list[ClosedWindow]:
        """Feed one record; returns the windows ready to be scored (this record closes at most
        one window; with look-ahead, it may also complete the look-ahead of waiting ones)."""
        self._high_water = max(self._high_water, offset)
        if offset <= self.camera_last.get(camera_id, -1):
            return []  # dispatched before a restart
        current = self._open.get(camera_id)
        if current is not None and (
            captured_at >= current.start_at + self.window_seconds or captured_at < current.end_at
        ):
            self._close(camera_id)
            current = None
        closed = self._ready(camera_id, offset, captured_at)
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
        self._seen[camera_id] = offset
        return closed

    def end(self, camera_id: int, offset: int, captured_at: float) -> list[ClosedWindow]:
        """The camera's source ended at `offset` (a marker record, not a frame): close its window
        flagged as the last one, or emit an empty final window if none is open."""
        self._high_water = max(self._high_water, offset)
        if offset <= self.camera_last.get(camera_id, -1):
            return []
        if camera_id in self._open:
            self._close(camera_id)
            windows = self._flush(camera_id)
            windows[-1] = dataclasses.replace(windows[-1], end_of_stream=True)
        else:
            context = self._context.get(camera_id)
            windows = [
                ClosedWindow(
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
            ]
        self.camera_last[camera_id] = offset
        self._context.pop(camera_id, None)  # the next stream must not look back into this one
        self._emitted_context.pop(camera_id, None)
        self._seen.pop(camera_id, None)
        return windows

    def flush_idle(self, now: float) -> list[ClosedWindow]:
        """Close windows of cameras that went quiet, so their last frames get scored (with the
        look-ahead frames that arrived: no more are coming soon)."""
        idle = [
            cam for cam, w in self._open.items() if now - w.touched_wall >= self.idle_flush_seconds
        ]
        return [w for cam in idle for w in self._close_and_flush(cam)]

    def flush_all(self) -> list[ClosedWindow]:
        return [w for cam in list(self._open) for w in self._close_and_flush(cam)]

    def safe_position(self) -> int:
        """Offset to resume from: the first record of any still-open or waiting window, else
        past the end."""
        firsts = [w.first_offset for w in self._open.values()]
        firsts += [x.window.first_offset for q in self._waiting.values() for x in q]
        if firsts:
            return min(firsts)
        return self._high_water + 1

    def snapshot(self) -> tuple[dict[str, int], dict[str, list[int]]]:
        """JSON-friendly camera_last and camera_context as of the last emitted windows, as
        persisted with them."""
        return (
            {str(cam): off for cam, off in self.camera_last.items()},
            {str(cam): list(ctx) for cam, ctx in self._emitted_context.items()},
        )

    def _ready(self, camera_id: int, offset: int, captured_at: float) -> list[ClosedWindow]:
        """The camera's waiting windows (oldest first) whose look-ahead the frame at `offset`
        completes; a frame captured before a window's end (the camera's clock stepped back)
        ends its look-ahead at the frame before it."""
        queue = self._waiting.get(camera_id, [])
        ready: list[ClosedWindow] = []
        while queue:
            window = queue[0].window
            if self.look_ahead_seconds <= 0:
                ahead = None
            elif captured_at >= window.end_at + self.look_ahead_seconds - TOLERANCE_SECONDS:
                ahead = offset
            elif captured_at < window.end_at:
                ahead = self._ahead_so_far(camera_id, window)
            else:
                break
            ready.append(self._emit(camera_id, ahead))
        return ready

    def _close_and_flush(self, camera_id: int) -> list[ClosedWindow]:
        self._close(camera_id)
        return self._flush(camera_id)

    def _flush(self, camera_id: int) -> list[ClosedWindow]:
        """Every waiting window of the camera, each with the look-ahead frames that arrived."""
        out: list[ClosedWindow] = []
        while self._waiting.get(camera_id):
            window = self._waiting[camera_id][0].window
            out.append(self._emit(camera_id, self._ahead_so_far(camera_id, window)))
        return out

    def _ahead_so_far(self, camera_id: int, window: ClosedWindow) -> int | None:
        if self.look_ahead_seconds <= 0:
            return None
        seen = self._seen.get(camera_id, -1)
        return seen if seen > window.last_offset else None

    def _emit(self, camera_id: int, ahead: int | None) -> ClosedWindow:
        waiting = self._waiting[camera_id].pop(0)
        if not self._waiting[camera_id]:
            del self._waiting[camera_id]
        self.camera_last[camera_id] = waiting.window.last_offset
        self._emitted_context[camera_id] = waiting.context
        return dataclasses.replace(waiting.window, ahead_offset=ahead)

    def _remember(self, camera_id: int, offset: int) -> None:
        """Offsets of the open window; they become look-back context once it closes, so the
        remembered context is always what precedes the next window."""
        self._pending.setdefault(camera_id, []).append(offset)

    def _close(self, camera_id: int) -> None:
        """Cut the camera's open window; it waits for its look-ahead frames (`_ready`)."""
        window = self._open.pop(camera_id)
        offsets = [o for o in self._pending.pop(camera_id, []) if o <= window.last_offset]
        ctx = self._context.setdefault(camera_id, deque(maxlen=max(self.context_frames, 1)))
        ctx.extend(offsets)
        cut = ClosedWindow(
            camera_id,
            self.partition,
            window.first_offset,
            window.last_offset,
            window.context_offset,
            window.n_frames,
            window.start_at,
            window.end_at,
        )
        self._waiting.setdefault(camera_id, []).append(_Waiting(cut, list(ctx)))
