"""Camera conditions the training footage never had, made from a recording: shake, dusk, night
gain, hard compression.

Why one module: a camera learns in one condition and is scored in others, and both the suite's
robustness rows (`vad eval suite`) and the training-only proxy (`bench/stage1_proxy.py`) replay
a clip as that other camera. Every transform is pure (frames in, new frames out) and seeded by
a string (the clip's name), so every run makes the same footage.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import cv2
import numpy as np

DIM_GAIN = 0.5  # dusk: every grey level x 0.5
NOISE_SIGMA = 6.0  # night gain: Gaussian sensor noise, grey levels
JPEG_QUALITY = 20  # a busy network or a cheap recorder


def _rng(seed: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(seed.encode()))


def shaken(frames: list[np.ndarray], amplitude: float, seed: str) -> list[np.ndarray]:
    """Each frame moved by its own random whole-pixel shift of up to `amplitude` x the width in
    x and y (edges replicated), from a generator seeded by `seed`."""
    if not frames:
        return frames
    height, width = frames[0].shape[:2]
    reach = max(1, round(amplitude * width))
    rng = _rng(seed)
    out = []
    for frame in frames:
        dx, dy = (float(v) for v in rng.integers(-reach, reach + 1, 2))
        move = np.float32([[1, 0, dx], [0, 1, dy]])
        out.append(cv2.warpAffine(frame, move, (width, height), borderMode=cv2.BORDER_REPLICATE))
    return out


def dimmed(frames: list[np.ndarray], _seed: str = "") -> list[np.ndarray]:
    """Every grey level x `DIM_GAIN`, rounded (dusk on a camera without auto-exposure)."""
    return [cv2.convertScaleAbs(frame, alpha=DIM_GAIN) for frame in frames]


def noisy(frames: list[np.ndarray], seed: str) -> list[np.ndarray]:
    """Gaussian noise of `NOISE_SIGMA` grey levels, new every frame, from a generator seeded by
    `seed`; one field added to every channel, so the frame's grey level gets exactly that sigma
    (the models see grey), rounded and clipped to 0-255."""
    rng = _rng(seed)
    out = []
    for frame in frames:
        field = rng.normal(0.0, NOISE_SIGMA, frame.shape[:2]).astype(np.float32)
        if frame.ndim == 3:
            field = field[:, :, None]
        out.append(np.clip(np.rint(frame + field), 0, 255).astype(np.uint8))
    return out


def compressed(frames: list[np.ndarray], _seed: str = "") -> list[np.ndarray]:
    """Every frame JPEG-encoded at `JPEG_QUALITY` and decoded again (blocks, ringing)."""
    out = []
    for frame in frames:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise ValueError("JPEG encoding failed")
        flags = cv2.IMREAD_COLOR if frame.ndim == 3 else cv2.IMREAD_GRAYSCALE
        out.append(cv2.imdecode(data, flags))
    return out


CONDITIONS: dict[str, Callable[[list[np.ndarray], str], list[np.ndarray]]] = {
    "dim": dimmed,
    "noise": noisy,
    "jpeg": compressed,
}


def in_condition(frames: list[np.ndarray], condition: str, seed: str) -> list[np.ndarray]:
    """`frames` as a camera in `condition` ("clean": unchanged, else a key of `CONDITIONS`)
    would deliver them, seeded by `seed`."""
    if condition == "clean":
        return frames
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}: clean, {', '.join(CONDITIONS)}")
    return CONDITIONS[condition](frames, seed)
