"""Frame pixels as JPEG: encoding, and decoding that never raises on bad input.

A record that is not a JPEG (or declares an absurd size) decodes to None, so a poison record is
scored as "undecodable" instead of stalling its window. The record around the JPEG (Kafka key and
headers) is `frames.record`'s.
"""

from __future__ import annotations

import cv2
import numpy as np


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("OpenCV could not JPEG-encode the frame")
    return buffer.tobytes()


# Published frames are at most `ingest.max_width` wide (1280 by default); anything near these
# limits did not come from our publisher. A JPEG under 8 MB can declare 65535 x 65535 pixels
# (~12 GB decoded): its header is read before a single pixel is decoded.
MAX_FRAME_SIDE = 8192
MAX_FRAME_PIXELS = 4096 * 4096

_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's frame header, or None when there is none to read."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            position += 2
            continue
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if marker in _SOF_MARKERS and position + 9 <= len(data):
            height = int.from_bytes(data[position + 5 : position + 7], "big")
            width = int.from_bytes(data[position + 7 : position + 9], "big")
            return width, height
        if marker == 0xDA or length < 2:  # image data before any frame header: malformed
            return None
        position += 2 + length
    return None


def frame_size_allowed(width: int, height: int) -> bool:
    return (
        0 < width <= MAX_FRAME_SIDE
        and 0 < height <= MAX_FRAME_SIDE
        and width * height <= MAX_FRAME_PIXELS
    )


def decode_jpeg(data: bytes) -> np.ndarray | None:
    """BGR image, or None when `data` is not a decodable JPEG or declares a frame larger than
    MAX_FRAME_SIDE / MAX_FRAME_PIXELS (checked in the header, before decoding)."""
    if not data or data[:2] != b"\xff\xd8":
        return None
    size = jpeg_size(data)
    if size is None or not frame_size_allowed(*size):
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return image if image is not None and image.size else None
