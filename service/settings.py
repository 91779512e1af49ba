"""The one settings object of every process, composed from the sections beside their owners.

Read once at process start (`Settings()` in `service/cli.py`), then passed down explicitly:
nothing in the code base reads the environment on its own. Connection settings are flat
(`VAD_DATABASE_URL`, `VAD_KAFKA_BOOTSTRAP`, ...); tuning lives in one section per concern, set
from the environment with a double underscore (`VAD_INGEST__JPEG_QUALITY=85`).

Where each part lives: the pure core's sections and the model folder in `vad.settings.CoreSettings`
(vad/ code takes that, never this); flat connection settings in mixins beside their owners
(`db.settings.DatabaseSettings`, `frames.settings.KafkaSettings`,
`workers.settings.CelerySettings`, `api.settings.ApiSettings`); the other sections beside the
code that reads them (`ingest.settings.IngestConfig`, `webhooks.settings.WebhookConfig`,
`workers.settings.FaultConfig`, `vad.address_policy.SecurityConfig`,
`feedback.settings.FeedbackConfig`).
Folders below service/ that take the whole object name it only in type hints.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.settings import ApiSettings
from db.settings import DatabaseSettings
from feedback.settings import FeedbackConfig
from frames.settings import KafkaSettings
from ingest.settings import IngestConfig
from vad.address_policy import SecurityConfig
from vad.settings import CoreSettings
from webhooks.settings import WebhookConfig
from workers.settings import CelerySettings, FaultConfig


class Settings(
    BaseSettings, CoreSettings, DatabaseSettings, KafkaSettings, CelerySettings, ApiSettings
):
    """Everything a process needs to know, from `VAD_*` environment variables or defaults."""

    model_config = SettingsConfigDict(env_prefix="VAD_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(
        Path("var"), description="Where the embedded stack keeps PostgreSQL, Redis and logs."
    )
    embedded_kafka_port: int = Field(19092, description="Port of the embedded Kafka-API broker.")
    embedded_redis_port: int = Field(16379, description="Port of the embedded Redis.")
    workers: int = Field(2, ge=1, description="Celery worker processes started by `vad up`.")

    ingest: IngestConfig = Field(default_factory=IngestConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)

    def resolved_data_dir(self) -> Path:
        return self.data_dir.resolve()

    def key_file(self) -> Path:
        """The secrets key (security.key_file, else <data_dir>/secret.key)."""
        return (self.security.key_file or self.data_dir / "secret.key").expanduser().resolve()
