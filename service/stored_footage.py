"""A camera's stored frames read back from the Kafka log by their windows, as continuous clips
for learning: a false alarm's frames (`service.feedback`) and the recent footage of
`vad camera learn --recent` (`service.relearn`).

Frames are read the way the worker reads a window (`FrameReader.read_range` + `window_frames`,
one call in `_window_images`, so moving the reading elsewhere is a one-line change). Windows
follow each other in one clip unless the stream ended between them or the log changed; the first
window of a clip brings its look-back frames, so the models see the motion into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from db.models import Window
from workers.kafka_log import FrameReader
from workers.tasks import window_frames


@dataclass
class StoredClips:
    """Continuous clips of decoded frames and the frame ranges they came from."""

    clips: list[list[np.ndarray]] = field(default_factory=list)
    ranges: list[dict] = field(default_factory=list)  # per window: log, offsets, frames

    @property
    def frames(self) -> int:
        return sum(len(c) for c in self.clips)


def _window_images(
    reader: FrameReader, window: Window, with_context: bool, context_frames: int
) -> list[np.ndarray]:
    """The window's decodable images (with its look-back frames first if `with_context`)."""
    first = window.context_offset if window.context_offset is not None else window.first_offset
    records = reader.read_range(window.topic, window.partition, first, window.last_offset)
    frames, context, _ = window_frames(window, records, context_frames if with_context else 0)
    return [f.image for f in [*context, *frames] if f.image is not None]


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
        joined = (
            previous is not None
            and previous.seq + 1 == window.seq
            and not previous.end_of_stream
            and (previous.topic_id, previous.partition) == (window.topic_id, window.partition)
        )
        images = _window_images(reader, window, not joined, context_frames)
        images = images[: max_frames - out.frames]
        if joined and out.clips:
            out.clips[-1].extend(images)
        elif images:
            out.clips.append(images)
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
