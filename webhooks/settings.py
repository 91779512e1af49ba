"""Settings of webhook delivery (`VAD_WEBHOOKS__*`), and `WebhookSettings`: what webhooks/
reads of the one settings object."""

from __future__ import annotations

from pydantic import Field

from db.settings import SecretsSettings
from vad.section import Section


class WebhookConfig(Section):
    """How webhook deliveries are sent, retried and given up on."""

    timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Per-attempt HTTP timeout; a slower receiver has failed."
    )
    max_attempts: int = Field(
        8, ge=1, le=50, description="Attempts before a delivery is dead-lettered."
    )
    backoff_initial_seconds: float = Field(
        5.0, gt=0, description="Delay before the second attempt; doubled after each failure."
    )
    backoff_max_seconds: float = Field(3600.0, gt=0, description="Retry delay ceiling.")
    backoff_jitter: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Random +- fraction of each delay, so receivers coming back aren't stampeded.",
    )
    lease_seconds: float = Field(
        30.0,
        gt=0,
        description="An attempt whose worker died is retried this long after its HTTP timeout.",
    )
    sweep_interval_seconds: float = Field(
        10.0, gt=0, description="How often due deliveries whose task was lost are re-enqueued."
    )


class WebhookSettings(SecretsSettings):
    """The delivery section, and where the secrets key and the address policy's section are:
    all that webhooks/ reads."""

    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
