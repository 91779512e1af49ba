"""A frame record on the wire: the key is the camera id, the value the JPEG, metadata in headers.

The value is the JPEG itself (so any Kafka tool can dump a frame). The key format and the header
format live here only: producers call `camera_key`, readers `camera_of_key`, and everything past
this boundary speaks an int camera id.
"""

from __future__ import annotations

from dataclasses import dataclass

Headers = list[tuple[str, bytes]]


def camera_key(camera_id: int) -> bytes:
    """The record key of a camera's frames (its id in decimal), so a camera's frames share a
    partition and stay in order."""
    return str(int(camera_id)).encode()


def camera_of_key(key: bytes | None) -> int | None:
    """The camera id a record key names; None when the key is missing or not a camera id
    (such a record cannot be attributed: it is counted and skipped, never guessed)."""
    try:
        return int(key)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class FrameMeta:
    """What a consumer needs to know about a frame record without decoding the image."""

    camera_id: int
    index: int
    captured_at: float
    ingested_at: float

    def to_headers(self) -> Headers:
        return [
            ("cam", str(self.camera_id).encode()),
            ("idx", str(self.index).encode()),
            ("ts", repr(self.captured_at).encode()),
            ("its", repr(self.ingested_at).encode()),
        ]

    @classmethod
    def from_headers(cls, headers: Headers | None) -> FrameMeta:
        """Parse record headers; raises ValueError naming what is missing or malformed."""
        values = {key: value for key, value in headers or []}
        try:
            return cls(
                camera_id=int(values["cam"]),
                index=int(values["idx"]),
                captured_at=float(values["ts"]),
                ingested_at=float(values["its"]),
            )
        except KeyError as missing:
            raise ValueError(f"frame record lacks header {missing}") from None
        except (TypeError, ValueError) as bad:
            raise ValueError(f"frame record has a malformed header: {bad}") from None


END_OF_STREAM_HEADER = "eos"


def end_of_stream_headers(camera_id: int, captured_at: float, ingested_at: float) -> Headers:
    """Headers of the marker record a finished file source publishes after its last frame."""
    meta = FrameMeta(camera_id, -1, captured_at, ingested_at)
    return [*meta.to_headers(), (END_OF_STREAM_HEADER, b"1")]


def is_end_of_stream(headers: Headers | None) -> bool:
    return any(key == END_OF_STREAM_HEADER for key, _ in headers or [])
