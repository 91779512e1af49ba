"""The frames log's connection settings (flat: `VAD_KAFKA_BOOTSTRAP`, `VAD_KAFKA_TOPIC`, ...).

A mixin of the one `Settings` object (`service/settings.py`), so the variable names stay flat.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KafkaSettings(BaseModel):
    """Where the frames log is and how its topic is made."""

    model_config = ConfigDict(extra="forbid")

    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers; unset = the embedded tansu broker."
    )
    kafka_topic: str = Field(
        "frames", description="Topic that carries one record per kept frame, key = camera id."
    )
    kafka_partitions: int = Field(
        4,
        ge=1,
        description="Partitions created for the frames topic (more = more parallel dispatch).",
    )
