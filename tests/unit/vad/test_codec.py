"""Frame pixels: JPEG encode/decode, which never raises on bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vad.codec import decode_jpeg, encode_jpeg


def _image(h: int = 48, w: int = 64) -> np.ndarray:
    """A smooth BGR gradient: JPEG keeps it close, so round trips can be compared tightly."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=-1).astype(
        np.uint8
    )


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
