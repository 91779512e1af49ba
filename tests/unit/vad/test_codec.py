"""Frames on the wire: FrameMeta headers and JPEG encode/decode."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vad.codec import FrameMeta, decode_jpeg, encode_jpeg, frame_from_record


def _image(h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth BGR gradient: JPEG keeps it close, so round trips can be compared tightly."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=-1).astype(
        np.uint8
    )


META = FrameMeta(camera_id=7, index=1234, captured_at=1_700_000_000.123456, ingested_at=1.5e9)


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


# --- JPEG --------------------------------------------------------------------------------------


def test_encode_decode_round_trip_keeps_shape_and_pixels() -> None:
    image = _image()
    data = encode_jpeg(image, quality=95)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    back = decode_jpeg(data)
    assert back is not None
    assert back.shape == image.shape and back.dtype == np.uint8
    assert np.mean(np.abs(back.astype(int) - image.astype(int))) < 3


def test_lower_quality_gives_smaller_records() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    assert len(encode_jpeg(image, 40)) < len(encode_jpeg(image, 95))


def test_greyscale_input_decodes_to_three_channels() -> None:
    grey = _image()[:, :, 0].copy()
    back = decode_jpeg(encode_jpeg(grey))
    assert back is not None and back.shape == (*grey.shape, 3)


def test_encoding_an_empty_image_raises() -> None:
    with pytest.raises((ValueError, cv2.error)):
        encode_jpeg(np.zeros((0, 0, 3), np.uint8))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"not a jpeg at all",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        b"\xff\xd8",  # SOI only
        b"\xff\xd8" + b"\x00" * 100,  # starts like a JPEG, then garbage
    ],
)
def test_non_jpeg_bytes_decode_to_none(data: bytes) -> None:
    assert decode_jpeg(data) is None


def test_png_bytes_decode_to_none_even_though_opencv_could_read_them() -> None:
    ok, png = cv2.imencode(".png", _image())
    assert ok and cv2.imdecode(png, cv2.IMREAD_COLOR) is not None
    assert decode_jpeg(png.tobytes()) is None


@pytest.mark.parametrize("keep", [2, 20, 200])
def test_jpeg_truncated_in_its_header_decodes_to_none(keep: int) -> None:
    data = encode_jpeg(_image())
    assert keep < len(data) // 2
    assert decode_jpeg(data[:keep]) is None


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.9, 0.99])
def test_jpeg_truncated_in_its_image_data_decodes_to_none(fraction: float) -> None:
    y, x = np.mgrid[0:240, 0:360]
    textured = np.stack([x % 256, y % 256, (x * y) % 256], axis=-1).astype(np.uint8)
    data = encode_jpeg(textured)
    assert decode_jpeg(data) is not None
    assert decode_jpeg(data[: int(len(data) * fraction)]) is None


def test_jpeg_without_its_end_marker_decodes_to_none() -> None:
    data = encode_jpeg(_image())
    assert decode_jpeg(data[:-2]) is None


# --- frame_from_record -------------------------------------------------------------------------


def test_frame_from_good_record() -> None:
    image = _image()
    frame = frame_from_record("gate", META, encode_jpeg(image), offset=42)
    assert frame.ok and frame.error is None
    assert (frame.camera, frame.index, frame.captured_at, frame.offset) == (
        "gate",
        META.index,
        META.captured_at,
        42,
    )
    assert frame.image is not None and frame.image.shape == image.shape


@pytest.mark.parametrize("value", [b"", b"garbage", b"\xff\xd8\x00\x00"])
def test_frame_from_poison_record_sets_error_instead_of_raising(value: bytes) -> None:
    frame = frame_from_record("gate", META, value, offset=99)
    assert not frame.ok and frame.image is None
    assert frame.error == "record at offset 99 is not a decodable JPEG"
    assert (frame.index, frame.captured_at, frame.offset) == (META.index, META.captured_at, 99)
