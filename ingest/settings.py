"""Settings of ingest (`VAD_INGEST__*`): how cameras are read, sampled, pruned and published."""

from __future__ import annotations

from pydantic import Field

from vad.section import Section


class IngestConfig(Section):
    """How cameras are read, sampled, pruned and published."""

    default_fps: float = Field(
        10.0,
        gt=0,
        le=60,
        description="Analysis frames per second kept per camera unless the camera sets its own.",
    )
    jpeg_quality: int = Field(
        90, ge=30, le=100, description="JPEG quality of frames published to Kafka."
    )
    max_width: int = Field(
        1280,
        ge=64,
        description="Frames wider than this are downscaled before publishing (aspect kept).",
    )
    prune_pixel_delta: float = Field(
        12.0,
        ge=0,
        description=(
            "Grey-level change (0-255) for which a pixel counts as changed, well above sensor and"
            " JPEG noise."
        ),
    )
    prune_changed_fraction: float = Field(
        0.002,
        ge=0,
        le=1,
        description=(
            "A frame is pruned as static when fewer than this fraction of pixels changed since "
            "the last kept frame (0 disables pruning)."
        ),
    )
    heartbeat_seconds: float = Field(
        2.0, gt=0, description="A frame is kept at least this often even when the scene is static."
    )
    read_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description=(
            "A camera that delivers no frame for this long is treated as frozen and reconnected."
        ),
    )
    open_timeout_seconds: float = Field(
        5.0, gt=0, description="Give up opening a stream after this long."
    )
    backoff_initial_seconds: float = Field(
        0.5, gt=0, description="First reconnect delay; doubled after each failure."
    )
    backoff_max_seconds: float = Field(30.0, gt=0, description="Reconnect delay ceiling.")
    offline_after_failures: int = Field(
        6,
        ge=1,
        description=(
            "Consecutive failed connects after which a camera is reported offline (it keeps "
            "retrying)."
        ),
    )
    status_interval_seconds: float = Field(
        1.0,
        gt=0,
        description=(
            "How often ingest writes camera status and kept/pruned counters to the database."
        ),
    )
    max_pending_frames: int = Field(
        200,
        ge=1,
        description=(
            "Frames in flight towards Kafka per camera (sent, not yet acknowledged); while the "
            "broker is stalled, further frames wait in the camera's outbox."
        ),
    )
    max_queued_frames: int = Field(
        50,
        ge=1,
        description=(
            "Encoded frames per camera waiting for the producer while the broker is behind; when "
            "full, the oldest is dropped and counted, so ingest keeps the newest frames and its "
            "memory stays bounded (file replays wait instead)."
        ),
    )
    drain_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description=(
            "When a camera stops, how long its queued frames may take to reach the producer; "
            "what is left after that is counted as dropped."
        ),
    )

    def camera_fps(self, own: float | None) -> float:
        """The analysis rate a camera is set to: its own fps (`cameras.fps`), else `default_fps`.
        The one place that says so: ingest samples at it, `vad camera learn` and `vad replay` fit
        and replay at it, and the API, `vad camera list` and `/metrics` show it."""
        return own or self.default_fps
