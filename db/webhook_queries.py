"""Webhook subscriptions and deliveries: deliveries are inserted in the same transaction as the
incident change that caused them (the caller's), claimed, attempted and retried by the webhook
worker (`webhooks/delivery.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.api_models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from db.clock import now_utc
from db.models import Incident
from db.regions import touches_zone


def add_subscription(session: Session, **fields) -> WebhookSubscription:
    subscription = WebhookSubscription(**fields)
    session.add(subscription)
    session.flush()
    return subscription


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def matching_subscriptions(
    session: Session, kind: str, camera: str, score: float, incident_id: int
) -> list[WebhookSubscription]:
    """Enabled subscriptions whose filters let this event through. A zone filter passes
    incidents that touched at least one of its zones, by `db.regions.touches_zone` on the
    incident's row, as the incident list and search filter (the caller's pending change of
    `incidents.zones` is flushed first). The other filters are read in Python: there are few
    subscriptions, and those JSON lists read more clearly here than in SQL."""
    query = select(WebhookSubscription).where(
        WebhookSubscription.enabled, _zone_filter_passes(incident_id)
    )
    return [
        s
        for s in session.scalars(query)
        if kind in (s.events or [])
        and (s.cameras is None or camera in s.cameras)
        and (s.min_score is None or score >= s.min_score)
    ]


def _zone_filter_passes(incident_id: int):
    """SQL condition on a subscription: no zone filter, or the incident touched one of its
    zones."""
    zone = func.jsonb_array_elements_text(WebhookSubscription.zones).table_valued("value")
    touched = (
        select(Incident.id).join(zone, touches_zone(zone.c.value)).where(Incident.id == incident_id)
    )
    return or_(WebhookSubscription.zones.is_(None), touched.exists())


def insert_delivery(
    session: Session,
    subscription_id: int,
    event_id: str,
    event_type: str,
    incident_id: int | None,
    payload: str,
) -> int | None:
    """The new delivery's id, or None when this event was already queued for the subscription."""
    stmt = (
        insert(WebhookDelivery)
        .values(
            subscription_id=subscription_id,
            event_id=event_id,
            event_type=event_type,
            incident_id=incident_id,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now_utc(),
        )
        .on_conflict_do_nothing(constraint="uq_delivery_event")
        .returning(WebhookDelivery.id)
    )
    return session.execute(stmt).scalar()


def claim_delivery(
    session: Session, delivery_id: int, lease_until: datetime
) -> tuple[WebhookDelivery, WebhookSubscription] | None:
    """Take a due pending delivery for one attempt: count the attempt and push its next attempt
    time past the lease, so a duplicate task (or the sweeper) leaves it alone while it is in
    flight but retries it if this worker dies. None when gone, finished, not due or locked."""
    delivery = session.scalar(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= func.now(),
        )
        .with_for_update(skip_locked=True)
    )
    if delivery is None:
        return None
    subscription = session.get(WebhookSubscription, delivery.subscription_id)
    delivery.attempts += 1
    delivery.next_attempt_at = lease_until
    session.flush()
    return delivery, subscription


@dataclass(frozen=True, slots=True)
class AttemptResult:
    started_at: datetime
    ok: bool
    status_code: int | None
    latency_ms: float
    error: str | None


def record_attempt(
    session: Session,
    delivery_id: int,
    attempt: int,
    result: AttemptResult,
    status: str,
    next_attempt_at: datetime | None,
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            attempt=attempt,
            started_at=result.started_at,
            ok=result.ok,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error[:2000] if result.error else None,
        )
    )
    values: dict = {
        "status": status,
        "last_status_code": result.status_code,
        "last_latency_ms": result.latency_ms,
        "last_error": result.error[:2000] if result.error else None,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if status == "delivered":
        values["delivered_at"] = now_utc()
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(values))


def finish_delivery(session: Session, delivery_id: int, status: str, error: str) -> None:
    """Close a delivery without an attempt (e.g. its subscription was disabled)."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=status, last_error=error)
    )


def list_deliveries(
    session: Session, subscription_id: int, status: str | None, limit: int, offset: int
) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def delivery_attempts(session: Session, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        rows = session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
        )
        for row in rows:
            found[row.delivery_id].append(row)
    return found


def redeliver(session: Session, delivery: WebhookDelivery) -> None:
    """Send a delivered or dead event again: same event id and body, a fresh attempt budget."""
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now_utc()
    session.flush()


def due_deliveries(session: Session, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= func.now()
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )
