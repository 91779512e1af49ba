"""Webhook subscriptions (admin) and their delivery log."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from sqlalchemy import select

from api.deps import AdminToken, ReadToken, Sessions
from api.errors import FieldError
from api.schemas import (
    AttemptOut,
    DeliveryOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)
from db import webhook_queries
from db.api_models import WebhookDelivery, WebhookSubscription
from db.models import Camera
from db.secrets import seal_url
from db.session import transaction
from vad.address_policy import AddressDenied, AddressPolicy
from vad.masks import PolygonError, validate_zone_name
from webhooks.delivery import send_deliveries
from webhooks.signing import new_webhook_secret

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

# Out-of-range ids are a 422 naming the field, not a database error (500): subscription ids are
# INTEGER, delivery ids BIGINT.
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Subscription id")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Delivery id")]


def webhook_out(sub: WebhookSubscription) -> WebhookOut:
    return WebhookOut(
        id=sub.id,
        url=sub.url,
        has_credentials=sub.url_sealed is not None,
        cameras=sub.cameras,
        min_score=sub.min_score,
        zones=sub.zones,
        events=list(sub.events or []),
        enabled=sub.enabled,
        description=sub.description,
        created_at=sub.created_at,
    )


def _zone_names(names: list[str] | None) -> list[str] | None:
    """Zone filter names, trimmed and checked like zone names are (422 naming `zones`)."""
    if names is None:
        return None
    try:
        return sorted({validate_zone_name(n) for n in names})
    except PolygonError as error:
        raise FieldError("zones", str(error)) from None


def _check_cameras(session, names: list[str] | None) -> None:
    """Unknown camera names are a typo far more often than a camera yet to be added."""
    if not names:
        return
    known = set(session.scalars(select(Camera.name).where(Camera.name.in_(names))))
    missing = sorted(set(names) - known)
    if missing:
        raise FieldError("cameras", f"unknown camera(s): {', '.join(missing)}")


def _get(session, webhook_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, webhook_id)
    if sub is None:
        raise HTTPException(404, f"no webhook {webhook_id}")
    return sub


@router.get("", response_model=list[WebhookOut])
def list_webhooks(sessions: Sessions, _: ReadToken) -> list[WebhookOut]:
    with sessions() as session:
        return [webhook_out(s) for s in webhook_queries.list_subscriptions(session)]


def _check_address(url: str, policy: AddressPolicy) -> None:
    """Refuse a receiver the webhook address policy denies, when its host resolves now (it is
    checked again on the resolved address of every delivery)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        policy.check_host(parts.hostname or "", port)
    except AddressDenied as denied:
        raise FieldError("url", f"webhook address not allowed: {denied}") from None
    except OSError:
        return


@router.post("", response_model=WebhookCreated, status_code=201)
def add_webhook(
    body: WebhookIn, request: Request, sessions: Sessions, _: AdminToken
) -> WebhookCreated:
    """Subscribe a URL; the secret is returned once, so receivers can verify signatures."""
    secret = body.secret or new_webhook_secret()
    url = str(body.url)
    _check_address(url, request.app.state.webhook_policy)
    box = request.app.state.secret_box
    shown, sealed = seal_url(box, url, query=True)
    with transaction(sessions) as session:
        _check_cameras(session, body.cameras)
        sub = webhook_queries.add_subscription(
            session,
            url=shown,
            url_sealed=sealed,
            secret=box.seal(secret),
            cameras=body.cameras,
            min_score=body.min_score,
            zones=_zone_names(body.zones),
            events=sorted(set(body.events)),
            enabled=body.enabled,
            description=body.description,
        )
        session.refresh(sub)
        return WebhookCreated(**webhook_out(sub).model_dump(), secret=secret)


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: WebhookId, sessions: Sessions, _: ReadToken) -> WebhookOut:
    with sessions() as session:
        return webhook_out(_get(session, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut)
def update_webhook(
    webhook_id: WebhookId, body: WebhookPatch, sessions: Sessions, _: AdminToken
) -> WebhookOut:
    with transaction(sessions) as session:
        sub = _get(session, webhook_id)
        changes = body.model_dump(include=body.model_fields_set)
        _check_cameras(session, changes.get("cameras"))
        if "zones" in changes:
            changes["zones"] = _zone_names(changes["zones"])
        for key, value in changes.items():
            setattr(sub, key, sorted(set(value)) if key == "events" else value)
        session.flush()
        return webhook_out(sub)


@router.delete("/{webhook_id}", status_code=204)
def remove_webhook(webhook_id: WebhookId, sessions: Sessions, _: AdminToken) -> Response:
    with transaction(sessions) as session:
        session.delete(_get(session, webhook_id))
    return Response(status_code=204)


# Delivery errors are stored coarse (webhooks/delivery.py); older rows may hold details, which a
# read token does not see.
_COARSE = ("blocked by the webhook address policy", "timed out", "connection failed")


def public_error(error: str | None) -> str | None:
    if error is None or error in _COARSE or error.startswith("HTTP "):
        return error
    return "delivery failed"


def delivery_out(delivery: WebhookDelivery, attempts: list, admin: bool = True) -> DeliveryOut:
    """The delivery and its attempts; error details only for admins."""
    shown = (lambda e: e) if admin else public_error
    return DeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        incident_id=delivery.incident_id,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_latency_ms=delivery.last_latency_ms,
        last_error=shown(delivery.last_error),
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        log=[
            AttemptOut.model_validate(a, from_attributes=True).model_copy(
                update={"error": shown(a.error)}
            )
            for a in attempts
        ],
    )


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    webhook_id: WebhookId,
    sessions: Sessions,
    caller: ReadToken,
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,  # BIGINT in SQL
) -> list[DeliveryOut]:
    """The delivery log, newest first, each with its attempts (status code, latency, error)."""
    with sessions() as session:
        _get(session, webhook_id)
        rows = webhook_queries.list_deliveries(session, webhook_id, status, limit, offset)
        attempts = webhook_queries.delivery_attempts(session, [d.id for d in rows])
        return [delivery_out(d, attempts[d.id], caller.admin) for d in rows]


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut)
def redeliver(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    request: Request,
    sessions: Sessions,
    _: AdminToken,
) -> DeliveryOut:
    """Send an event again (e.g. after a dead letter): same event id and body."""
    with transaction(sessions) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.subscription_id != webhook_id:
            raise HTTPException(404, f"no delivery {delivery_id} for webhook {webhook_id}")
        if delivery.status == "pending":
            raise HTTPException(409, f"delivery {delivery_id} is still pending")
        webhook_queries.redeliver(session, delivery)
        out = delivery_out(delivery, [])
    sender = request.app.state.send_delivery
    if sender is not None:
        send_deliveries(sender, [delivery_id])
    return out
