"""A frame record on the wire: the key (camera id) and the FrameMeta headers."""

from __future__ import annotations

import numpy as np
import pytest

from frames.record import FrameMeta, camera_key, camera_of_key
from frames.window import frame_from_record
from vad.codec import encode_jpeg


def _image(h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth BGR gradient: JPEG keeps it close, so round trips can be compared tightly."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=-1).astype(
        np.uint8
    )


META = FrameMeta(camera_id=7, index=1234, captured_at=1_700_000_000.123456, ingested_at=1.5e9)


# --- key ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("camera_id", [0, 7, 123456])
def test_key_round_trips_the_camera_id(camera_id: int) -> None:
    assert camera_key(camera_id) == str(camera_id).encode()
    assert camera_of_key(camera_key(camera_id)) == camera_id


@pytest.mark.parametrize("key", [None, b"", b"cam-1", b"\xff\xfe"])
def test_a_key_that_names_no_camera_is_none(key: bytes | None) -> None:
    assert camera_of_key(key) is None


# --- FrameMeta ---------------------------------------------------------------------------------


def test_headers_round_trip_exactly() -> None:
    headers = META.to_headers()
    assert [k for k, _ in headers] == ["cam", "idx", "ts", "its"]
    assert all(isinstance(v, bytes) for _, v in headers)
    assert FrameMeta.from_headers(headers) == META


@pytest.mark.parametrize("ts", [0.0, 1e-9, 1_712_345_678.000001, 0.1 + 0.2, 2.0**52 + 0.5])
def test_float_timestamps_survive_bit_for_bit(ts: float) -> None:
    meta = FrameMeta(1, 0, ts, ts)
    back = FrameMeta.from_headers(meta.to_headers())
    assert back.captured_at == ts and back.ingested_at == ts


def test_headers_order_and_extra_headers_do_not_matter() -> None:
    headers = list(reversed(META.to_headers())) + [("trace", b"abc"), ("other", b"")]
    assert FrameMeta.from_headers(headers) == META


def test_headers_may_be_any_sequence_of_pairs() -> None:
    # kafka-python hands a list of (str, bytes) tuples; a tuple of pairs works the same.
    assert FrameMeta.from_headers(tuple(META.to_headers())) == META  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", ["cam", "idx", "ts", "its"])
def test_missing_header_is_a_value_error_naming_it(missing: str) -> None:
    headers = [(k, v) for k, v in META.to_headers() if k != missing]
    with pytest.raises(ValueError, match=f"lacks header '{missing}'"):
        FrameMeta.from_headers(headers)


@pytest.mark.parametrize("headers", [None, []])
def test_no_headers_at_all_is_a_value_error(headers) -> None:
    with pytest.raises(ValueError, match="lacks header"):
        FrameMeta.from_headers(headers)


@pytest.mark.parametrize(
    ("key", "value"),
    [("cam", b"seven"), ("idx", b"1.5"), ("ts", b"yesterday"), ("its", b""), ("cam", b"\xff\xfe")],
)
def test_malformed_header_is_a_value_error(key: str, value: bytes) -> None:
    headers = [(k, value if k == key else v) for k, v in META.to_headers()]
    with pytest.raises(ValueError, match="malformed header") as info:
        FrameMeta.from_headers(headers)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_none_header_value_is_a_value_error_not_a_type_error() -> None:
    headers = [(k, None if k == "ts" else v) for k, v in META.to_headers()]
    with pytest.raises(ValueError, match="malformed header"):
        FrameMeta.from_headers(headers)  # type: ignore[arg-type]


def test_frame_meta_is_frozen() -> None:
    with pytest.raises(AttributeError):
        META.index = 3  # type: ignore[misc]


# --- frame_from_record -------------------------------------------------------------------------


def test_frame_from_good_record() -> None:
    image = _image()
    frame = frame_from_record(7, META, encode_jpeg(image), offset=42)
    assert frame.ok and frame.error is None
    assert (frame.camera_id, frame.index, frame.captured_at, frame.offset) == (
        7,
        META.index,
        META.captured_at,
        42,
    )
    assert frame.image is not None and frame.image.shape == image.shape


@pytest.mark.parametrize("value", [b"", b"garbage", b"\xff\xd8\x00\x00"])
def test_frame_from_poison_record_sets_error_instead_of_raising(value: bytes) -> None:
    frame = frame_from_record(7, META, value, offset=99)
    assert not frame.ok and frame.image is None
    assert frame.error == "record at offset 99 is not a decodable JPEG"
    assert (frame.index, frame.captured_at, frame.offset) == (META.index, META.captured_at, 99)
