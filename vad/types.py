"""Small core types shared by ingest, workers and scorers.

They carry pixels only inside one process; between processes a frame is a Kafka record
(see `frames.record`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame of one camera.

    `captured_at` is media time in seconds since the epoch: wall clock for live cameras, replay
    start + presentation time for recorded files, so windows follow the video, not the replay speed.
    `image` is BGR uint8 (H, W, 3), or None when the record could not be decoded (`error` says why).
    """

    camera_id: int
    index: int
    captured_at: float
    image: np.ndarray | None
    offset: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.image is not None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """Per-frame stage-1 output for one window.

    `scores` are calibrated anomaly scores in [0, 1] (NaN for frames that could not be decoded);
    `raw` is the scorer's uncalibrated value, kept for debugging and recalibration.
    `state` is the scorer's updated per-camera state, if it keeps any.
    """

    scores: np.ndarray
    raw: np.ndarray
    state: dict | None = None
    notes: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IngestReport:
    """Counters and status one camera's ingestor reports since its previous report (ingest
    produces it, the service stores it: `ingest.service.StatusSink`)."""

    camera_id: int
    status: str
    reason: str | None
    kept: int
    pruned: int
    dropped: int
    resume_index: int | None
    # The frame rate the source announced at the latest connection, so operators see it beside
    # the rate analysed (`vad.sampling.camera_rates`): 0.0 = it announces none; None = not
    # connected yet (nothing to say, the stored rate stays).
    source_fps: float | None = None
    # The frames per second the latest connection is analysed at (`AnalysisSampler.rate`),
    # stored for SQL readers (Grafana) so they need no copy of the stride rule; None = not
    # connected yet.
    analysed_fps: float | None = None
