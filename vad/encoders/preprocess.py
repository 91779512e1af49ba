"""How a BGR frame becomes an image encoder's input tensor, shared by every image tower.

The export writes the parameters (size, mean, std, resize mode) into the model's manifest and the
runtime rebuilds the same `ImageSpec` from it, so training-time preprocessing cannot drift from
what the workers feed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """How a BGR frame becomes the image tower's input tensor."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    mode: str = "crop"  # "crop" (CLIP) or "squash" (SigLIP: whole frame to a square)

    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        """Resize (short side to `size` + centre crop, or the whole frame to size x size; bicubic),
        RGB, scale to [0, 1], normalise. Returns float32 (N, 3, size, size)."""
        out = np.empty((len(images), 3, self.size, self.size), np.float32)
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        for i, image in enumerate(images):
            rgb = _to_rgb(image)
            if self.mode == "squash":
                resized = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_CUBIC)
            else:
                resized = _resize_crop(rgb, self.size)
            crop = resized.astype(np.float32) / 255.0
            out[i] = ((crop - mean) / std).transpose(2, 0, 1)
        return out


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _resize_crop(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_CUBIC)
    top, left = (nh - size) // 2, (nw - size) // 2
    return resized[top : top + size, left : left + size]


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)
