"""Webhook tuning; meant to become `Settings.webhooks` (env `VAD_WEBHOOKS__*`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WebhookConfig(BaseModel):
    """How webhook deliveries are sent, retried and given up on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: float = Field(5.0, gt=0, le=60, description="Per-attempt HTTP timeout; a slower receiver counts as failed.")
    max_attempts: int = Field(8, ge=1, le=50, description="Attempts before a delivery is dead-lettered.")
    backoff_initial_seconds: float = Field(5.0, gt=0, description="Delay before the second attempt; doubled after each failure.")
    backoff_max_seconds: float = Field(3600.0, gt=0, description="Retry delay ceiling.")
    backoff_jitter: float = Field(0.2, ge=0, le=1, description="Random +- fraction added to each delay so receivers coming back are not stampeded.")
    lease_seconds: float = Field(30.0, gt=0, description="An attempt whose worker died is retried this long after its HTTP timeout.")
    sweep_interval_seconds: float = Field(10.0, gt=0, description="How often due deliveries whose task was lost are enqueued again.")
