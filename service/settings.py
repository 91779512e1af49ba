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
`feedback.settings.FeedbackConfig`). What each folder reads of the whole is a class beside it
(`workers.settings.WorkerSettings`, `api.settings.ApiAppSettings`, `feedback.settings.
FeedbackSettings`, `webhooks.settings.WebhookSettings`, `db.settings.SecretsSettings`); this
class is composed of those, so no folder below service/ names it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.settings import ApiAppSettings
from db.settings import DatabaseSettings
from workers.settings import WorkerSettings


class Settings(BaseSettings, ApiAppSettings, WorkerSettings, DatabaseSettings):
    """Everything a process needs to know, from `VAD_*` environment variables or defaults."""

    model_config = SettingsConfigDict(env_prefix="VAD_", env_nested_delimiter="__", extra="forbid")

    embedded_kafka_port: int = Field(19092, description="Port of the embedded Kafka-API broker.")
    embedded_redis_port: int = Field(16379, description="Port of the embedded Redis.")
    workers: int = Field(2, ge=1, description="Celery worker processes started by `vad up`.")

    def resolved_data_dir(self) -> Path:
        return self.data_dir.resolve()
