"""A camera's stored frames read back from the Kafka log by their windows, as continuous clips
for learning: a false alarm's frames (`feedback.verdicts`) and the recent footage of
`vad camera learn --recent` (`service.learn`, scheduled by `service.relearn`).

Frames are read the way the worker reads a window (`read_window_frames` + `window_frames`,
one call in `_window_images`, so moving the reading elsewhere is a one-line change). Windows
follow each other in one clip unless the stream ended between them or the log changed; the first
window of a clip brings its look-back frames, so the models see the motion into it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.models import Incident, IncidentFeedback, Window
from frames.reader import FrameReader, WindowUnavailable
from frames.window import read_window_frames, window_frames
from vad.types import Frame
from vad.video import TimedClip


@dataclass
class StoredClips:
    """Continuous clips of decoded frames and the frame ranges they came from."""

    clips: list[list[np.ndarray]] = field(default_factory=list)
    ranges: list[dict] = field(default_factory=list)  # per window: log, offsets, frames
    offsets: list[list[int]] = field(default_factory=list)  # each clip image's log offset

    @property
    def frames(self) -> int:
        return sum(len(c) for c in self.clips)


def _window_images(
    reader: FrameReader, window: Window, with_context: bool, context_frames: int
) -> list[tuple[float, np.ndarray]]:
    """(capture time, image) of the window's decodable frames (with its look-back frames first
    if `with_context`)."""
    read = _decoded(reader, window, with_context, context_frames)
    return [(f.captured_at, f.image) for f in read]


def _window_frames(
    reader: FrameReader, window: Window, with_context: bool, context_frames: int
) -> list[tuple[int, np.ndarray]]:
    """(log offset, image) of the window's decodable frames, look-back frames first if
    `with_context`."""
    return [(f.offset, f.image) for f in _decoded(reader, window, with_context, context_frames)]


def _decoded(
    reader: FrameReader, window: Window, with_context: bool, context_frames: int
) -> list[Frame]:
    first = window.context_offset if window.context_offset is not None else window.first_offset
    logged = read_window_frames(
        reader, window.topic, window.partition, first, window.last_offset, window.camera_id
    )
    keep = context_frames if with_context else 0
    frames, context, _ = window_frames(window, list(logged), keep)
    return [f for f in [*context, *frames] if f.image is not None]


def read_clips(
    reader: FrameReader, windows: Sequence[Window], context_frames: int, max_frames: int
) -> StoredClips:
    """The windows' frames (in seq order) as continuous clips, at most `max_frames` in all.
    Raises `WindowUnavailable` when a window's frames are no longer in the log."""
    out = StoredClips()
    previous: Window | None = None
    for window in sorted(windows, key=lambda w: w.seq):
        if out.frames >= max_frames:
            break
        joined = previous is not None and _continues(previous, window)
        read = _window_frames(reader, window, not joined, context_frames)
        read = read[: max_frames - out.frames]
        images, offsets = [image for _, image in read], [offset for offset, _ in read]
        if joined and out.clips:
            out.clips[-1].extend(images)
            out.offsets[-1].extend(offsets)
        elif images:
            out.clips.append(images)
            out.offsets.append(offsets)
        out.ranges.append(
            {
                "window_seq": window.seq,
                "topic_id": window.topic_id,
                "partition": window.partition,
                "first_offset": window.first_offset,
                "last_offset": window.last_offset,
                "frames": len(images),
            }
        )
        previous = window
    return out


def recent_windows(session: Session, camera_id: int, since: datetime) -> tuple[list[Window], list]:
    """(windows, incident ids): the camera's scored windows since `since` that no open or
    confirmed incident covers, and the incidents left out. Closed incidents without a verdict
    and false alarms are footage like any other."""
    confirmed = select(IncidentFeedback.incident_id).where(IncidentFeedback.verdict == "confirmed")
    covering = session.execute(
        select(Incident.id, Incident.first_window_seq, Incident.last_window_seq).where(
            Incident.camera_id == camera_id,
            or_(Incident.status == "open", Incident.id.in_(confirmed)),
            or_(Incident.ended_at.is_(None), Incident.ended_at >= since),
        )
    ).all()
    windows = session.scalars(
        select(Window)
        .where(Window.camera_id == camera_id, Window.status == "done", Window.start_at >= since)
        .order_by(Window.seq)
    ).all()
    kept = [w for w in windows if not any(a <= w.seq <= b for _, a, b in covering)]
    return kept, sorted(i for i, _, _ in covering)


def spread(windows: Sequence[Window], max_frames: int) -> tuple[list[Window], bool]:
    """(windows, joined): all of them when they hold at most `max_frames`, else windows evenly
    spread over the period (each then a clip of its own, with its look-back frames)."""
    total = sum(w.n_frames for w in windows)
    if total <= max_frames:
        return list(windows), True
    step = math.ceil(total / max_frames)
    return list(windows[::step]), False


def stream_clips(
    reader: FrameReader, windows: Sequence[Window], context_frames: int, joined: bool = True
) -> tuple[Iterator[TimedClip], list[str]]:
    """(clips, skipped): the windows' frames as continuous clips read lazily (a day of footage
    is never held in memory), for `fit_normality_model`, with their capture times (the scene
    norms' clock: the rate the worker analysed them at). A window whose frames left the log is
    skipped and named in `skipped` (filled while the clips are read)."""
    skipped: list[str] = []
    groups: list[list[Window]] = []
    previous: Window | None = None
    for window in sorted(windows, key=lambda w: w.seq):
        if joined and previous is not None and _continues(previous, window):
            groups[-1].append(window)
        else:
            groups.append([window])
        previous = window

    def frames(group: list[Window], _clip: TimedClip) -> Iterator[tuple[float, np.ndarray]]:
        for i, window in enumerate(group):
            try:
                yield from _window_images(reader, window, i == 0, context_frames)
            except WindowUnavailable as gone:
                skipped.append(f"window {window.seq}: {gone}")
                return  # the clip ends here: motion is never computed across a gap

    return (TimedClip(functools.partial(frames, g)) for g in groups), skipped


def _continues(previous: Window, window: Window) -> bool:
    return (
        previous.seq + 1 == window.seq
        and not previous.end_of_stream
        and (previous.topic_id, previous.partition) == (window.topic_id, window.partition)
    )
