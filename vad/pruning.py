"""Static-frame pruning (the DiffFP idea): most surveillance frames repeat the previous one.

A frame is dropped when too few pixels changed since the last *kept* frame, but a heartbeat frame
is kept at least every few seconds so a static scene still shows up as alive and scored.
"Changed pixels" rather than mean difference: a small person walking far from the camera changes
a few percent of the pixels a lot, while sensor and JPEG noise change all pixels a little.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

_THUMB = (128, 96)


class PruningSettings(Protocol):
    """The ingest section's pruning fields (`ingest.settings.IngestConfig`), named structurally:
    the pure core imports no application folder."""

    prune_pixel_delta: float
    prune_changed_fraction: float
    heartbeat_seconds: float


def thumbnail(image: np.ndarray, size: tuple[int, int] = _THUMB) -> np.ndarray:
    """Small grey float image: cheap to compare, averages away pixel noise."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def changed_fraction(a: np.ndarray, b: np.ndarray, pixel_delta: float) -> float:
    return float(np.mean(np.abs(a - b) > pixel_delta))


@dataclass
class StaticFramePruner:
    pixel_delta: float
    min_changed_fraction: float
    heartbeat_seconds: float
    kept: int = 0
    pruned: int = 0
    _last_thumb: np.ndarray | None = field(default=None, repr=False)
    _last_kept_at: float = field(default=float("-inf"), repr=False)

    @classmethod
    def from_config(cls, config: PruningSettings) -> StaticFramePruner:
        """The pruner ingest uses, so learning sees exactly the frames the pipeline scores."""
        return cls(
            config.prune_pixel_delta, config.prune_changed_fraction, config.heartbeat_seconds
        )

    def keep(self, image: np.ndarray, media_time: float) -> bool:
        """Decide for one frame and update the counters."""
        thumb = thumbnail(image)
        # Time going backwards means a new stream (reconnect): keep its first frame.
        elapsed = media_time - self._last_kept_at
        due = elapsed >= self.heartbeat_seconds or elapsed < 0
        changed = (
            self._last_thumb is None
            or changed_fraction(thumb, self._last_thumb, self.pixel_delta)
            >= self.min_changed_fraction
        )
        if due or changed:
            self._last_thumb = thumb
            self._last_kept_at = media_time
            self.kept += 1
            return True
        self.pruned += 1
        return False
