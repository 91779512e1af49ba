"""Models of the REST API: API tokens and webhook subscriptions, deliveries and attempts.

They share `db.models.Base`, so one metadata describes the whole schema (migration 0002_api).
A delivery is unique on (subscription, event id): enqueueing the same incident event twice, e.g.
from a retried tracker step, never creates a second delivery, and a redelivery keeps its event id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, JsonDoc, NullableJson


class ApiToken(Base):
    """A bearer token; only the SHA-256 of its secret is stored, so a database leak leaks none."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="sha256 hex of secret")
    scopes: Mapped[list] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), comment="NULL = never"
    )


class WebhookSubscription(Base):
    """Where to POST incident events, and which ones (None filters mean "all")."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text, comment="shown everywhere: userinfo/query redacted")
    url_sealed: Mapped[str | None] = mapped_column(
        Text, comment="full URL, encrypted (db.secrets), when it holds secrets"
    )
    secret: Mapped[str] = mapped_column(Text, comment="HMAC key, encrypted (db.secrets)")
    cameras: Mapped[list | None] = mapped_column(JsonDoc, comment="camera names; NULL = all")
    min_score: Mapped[float | None] = mapped_column(Float)
    zones: Mapped[list | None] = mapped_column(
        NullableJson, comment="only incidents touching one of these zones; NULL = all"
    )
    events: Mapped[list] = mapped_column(JsonDoc, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(Base):
    """One event for one subscription: the exact body sent on every attempt, and its state."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_delivery_event"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_deliveries_subscription", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(40))
    incident_id: Mapped[int | None] = mapped_column(BigInteger, comment="no FK: the log outlives")
    payload: Mapped[str] = mapped_column(Text, comment="the exact JSON body, signed per attempt")
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_latency_ms: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """The log line of one HTTP attempt (status code, latency, error)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_attempts_delivery", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
