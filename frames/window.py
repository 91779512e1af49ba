"""A camera's frames between two offsets, read back from the log and decoded: the one way
scoring, stage 2, clip export and key frames get pixels out of Kafka.

Other cameras share the partition: their records are skipped by key, undecoded, and so are
end-of-stream markers. A record with broken headers or pixels is not dropped silently: it comes
back as a frame with `error` set (no image), at the last good capture time, so scoring can store
it as "undecodable" and the others can pass over it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from frames.reader import FrameReader, LogRecord, WindowUnavailable
from frames.record import FrameMeta, is_end_of_stream
from vad.codec import decode_jpeg
from vad.types import Frame


@dataclass(frozen=True, slots=True)
class LoggedFrame:
    """A decoded frame with what the log said about it: when ingest stored it, and its JPEG
    (the key frame of an incident is stored as the bytes the camera's record carried)."""

    frame: Frame
    ingested_at: float
    jpeg: bytes


def read_window_frames(
    reader: FrameReader,
    topic: str,
    partition: int,
    first: int,
    last: int,
    camera_id: int,
    offsets: Collection[int] | None = None,
    timeout: float = 15.0,
) -> Iterator[LoggedFrame]:
    """Camera `camera_id`'s frames at first <= offset <= last of topic[partition], in order, as
    they arrive (a long range is never held in memory); only `offsets` when given. Raises
    WindowUnavailable (the records are gone) or TimeoutError (the log did not answer)."""
    records = reader.iter_range(topic, partition, first, last, timeout)
    return camera_frames(records, camera_id, offsets)


def camera_frames(
    records: Iterable[LogRecord], camera_id: int, offsets: Collection[int] | None = None
) -> Iterator[LoggedFrame]:
    """The frames among `records` that are camera `camera_id`'s (and in `offsets`, if given),
    decoded; a record with bad headers or pixels becomes an error frame."""
    last_time = 0.0
    for record in records:
        if record.camera_id != camera_id or is_end_of_stream(record.headers):
            continue
        try:
            meta = FrameMeta.from_headers(record.headers)
        except ValueError as bad:
            if offsets is None or record.offset in offsets:
                frame = Frame(camera_id, -1, last_time, None, offset=record.offset, error=str(bad))
                yield LoggedFrame(frame, last_time, record.value)
            continue
        last_time = meta.captured_at
        if offsets is None or record.offset in offsets:
            frame = frame_from_record(camera_id, meta, record.value, record.offset)
            yield LoggedFrame(frame, meta.ingested_at, record.value)


def frame_from_record(camera_id: int, meta: FrameMeta, value: bytes, offset: int) -> Frame:
    """The frame a record holds; `error` says so when its value is not a decodable JPEG."""
    image = decode_jpeg(value)
    error = None if image is not None else f"record at offset {offset} is not a decodable JPEG"
    return Frame(camera_id, meta.index, meta.captured_at, image, offset=offset, error=error)


class WindowRange(Protocol):
    """What `window_frames` needs of a window row (db.models.Window has it)."""

    camera_id: int
    first_offset: int
    last_offset: int
    n_frames: int


def window_frames(
    window: WindowRange, logged: list[LoggedFrame], keep_context: int
) -> tuple[list[Frame], list[Frame], dict[int, float]]:
    """Split a camera's frames read for a window (context + window range) into the window's
    frames, its last `keep_context` context frames and ingest times by offset. A frame count
    that differs from the window's means the log is not the one the window was cut from:
    WindowUnavailable, never other frames scored in its place."""
    decoded = [f.frame for f in logged]
    ingested = {f.frame.offset: f.ingested_at for f in logged}
    frames = [f for f in decoded if f.offset >= window.first_offset]
    context = [f for f in decoded if f.offset < window.first_offset]
    if len(frames) != window.n_frames:
        raise WindowUnavailable(
            f"log mismatch: window expects {window.n_frames} frames of camera "
            f"{window.camera_id} at {window.first_offset}..{window.last_offset}, found "
            f"{len(frames)} (was the topic recreated?)"
        )
    return frames, (context[-keep_context:] if keep_context else []), ingested
