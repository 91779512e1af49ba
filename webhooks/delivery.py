"""Signed webhook deliveries: enqueue on incident events, send one attempt at a time, retry.

The database row is the delivery's whole state (attempts, next attempt time, status), so the
Celery message is only a nudge: a lost, duplicated or early message changes nothing, and a sweeper
re-nudges due deliveries. Each attempt runs outside any transaction (a slow receiver holds no
lock or connection) and on its own queue, so it never delays window scoring or other receivers.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import webhook_queries
from db.clock import now_utc
from db.incident_serializer import WEBHOOK, serialize_incident
from db.models import Camera, Incident
from db.secrets import SecretBox, open_url
from db.session import transaction
from vad.address_policy import AddressDenied, AddressPolicy, webhook_policy
from webhooks.settings import WebhookConfig, WebhookSettings
from webhooks.signing import SIGNATURE_HEADER, signature_header

log = logging.getLogger(__name__)

WEBHOOK_QUEUE = "webhooks"
DELIVER_WEBHOOK = "vad.deliver_webhook"
SWEEP_WEBHOOKS = "vad.sweep_webhooks"
EVENT_TYPES = ("incident.opened", "incident.updated", "incident.closed", "incident.analyzed")
USER_AGENT = "vad-webhooks/0.1"


def webhook_config(settings: WebhookSettings) -> WebhookConfig:
    """The delivery section of the settings."""
    return settings.webhooks


# --- enqueue -------------------------------------------------------------------------------------


def event_id(kind: str, incident: Incident, key: str | None = None) -> str:
    """Stable per event: the tracker emits at most one event of a kind per incident and window,
    and a retried tracker step re-emits the same (incident, kind, window) or rolls back with it.
    Events from outside the tracker (stage 2's `incident.analyzed`) bring their own `key`."""
    return f"{incident.id}:{kind}:{incident.last_window_seq if key is None else key}"


def event_body(kind: str, incident: Incident, camera: str, key: str | None = None) -> str:
    """The JSON body, fixed at enqueue time so every attempt sends (and signs) the same bytes."""
    return json.dumps(
        {
            "id": event_id(kind, incident, key),
            "type": kind,
            "created_at": incident.updated_at.isoformat(),
            # the key frame is linked always: it is stored right after the event's transaction
            "incident": serialize_incident(incident, camera, WEBHOOK, has_key_frame=True),
        },
        separators=(",", ":"),
    )


def enqueue_incident_event(
    session: Session, kind: str, incident: Incident, key: str | None = None
) -> list[int]:
    """Create one pending delivery per matching subscription, in the caller's transaction; returns
    the ids of the new ones, to nudge with `send_deliveries` after commit. Idempotent."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    camera = session.scalar(select(Camera.name).where(Camera.id == incident.camera_id)) or ""
    body = event_body(kind, incident, camera, key)
    created = []
    matching = webhook_queries.matching_subscriptions(
        session, kind, camera, incident.peak_score, incident.id
    )
    for sub in matching:
        new_id = webhook_queries.insert_delivery(
            session, sub.id, event_id(kind, incident, key), kind, incident.id, body
        )
        if new_id is not None:
            created.append(new_id)
    return created


# --- one attempt ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one call of `deliver_once` did; `retry_in` is set when another attempt is due."""

    delivery_id: int
    status: str  # delivered | pending | dead | skipped
    attempt: int = 0
    status_code: int | None = None
    retry_in: float | None = None
    error: str | None = None


def backoff_seconds(attempt: int, config: WebhookConfig, rng: random.Random | None = None) -> float:
    """Delay after failed attempt number `attempt` (1-based): initial * 2**(attempt-1), capped,
    with +-jitter."""
    base = min(config.backoff_initial_seconds * 2 ** (attempt - 1), config.backoff_max_seconds)
    jitter = (rng or random).uniform(-1, 1) * config.backoff_jitter
    return max(base * (1 + jitter), 0.0)


@dataclass(frozen=True)
class Outbound:
    """What a delivery needs besides the row: where it may connect, and the key that opens the
    subscription's URL and secret."""

    policy: AddressPolicy
    box: SecretBox

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> Outbound:
        return cls(webhook_policy(settings), SecretBox.from_file(settings.key_file()))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (3xx = failure), never a reason to re-POST somewhere else."""

    def redirect_request(self, *args, **kwargs):
        return None


def _guarded_opener(policy: AddressPolicy) -> urllib.request.OpenerDirector:
    """urllib connecting only to addresses `policy` allows, checked on the resolved address of
    the socket it actually opens (so no DNS answer can swap the address after the check)."""

    class GuardedHTTP(http.client.HTTPConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = policy.create_connection

    class GuardedHTTPS(http.client.HTTPSConnection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = policy.create_connection

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(GuardedHTTP, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(GuardedHTTPS, req, context=self._context)

    return urllib.request.build_opener(
        _NoRedirect, HTTPHandler, HTTPSHandler, urllib.request.ProxyHandler({})
    )


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, policy: AddressPolicy
) -> webhook_queries.AttemptResult:
    """One HTTP POST; any exception becomes a failed result with the reason. Only the HTTP
    status and a coarse kind of failure are stored (the delivery log is readable by read
    tokens); the exception itself goes to this worker's log."""
    started, clock = now_utc(), time.perf_counter()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    code: int | None = None
    error: str | None = None
    try:
        with _guarded_opener(policy).open(request, timeout=timeout) as response:
            code = response.status
            response.read(65536)
    except urllib.error.HTTPError as failure:
        code, error = failure.code, f"HTTP {failure.code}"
    except (urllib.error.URLError, OSError, http.client.HTTPException, AddressDenied) as failure:
        reason = getattr(failure, "reason", failure)
        error = _coarse_error(reason)
        log.warning("webhook POST failed: %s: %s", type(reason).__name__, reason)
    ok = code is not None and 200 <= code < 300
    if not ok and error is None:
        error = f"HTTP {code}"
    latency = (time.perf_counter() - clock) * 1000
    return webhook_queries.AttemptResult(started, ok, code, round(latency, 1), error)


def _coarse_error(reason: object) -> str:
    if isinstance(reason, AddressDenied):
        return "blocked by the webhook address policy"
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "timed out"
    return "connection failed"


def deliver_once(
    sessions: sessionmaker[Session],
    delivery_id: int,
    config: WebhookConfig,
    rng: random.Random | None = None,
    *,
    outbound: Outbound,
) -> Outcome:
    """Make the delivery's next attempt if it is due, and book the result."""
    lease = now_utc() + timedelta(seconds=config.timeout_seconds + config.lease_seconds)
    with transaction(sessions) as session:
        claimed = webhook_queries.claim_delivery(session, delivery_id, lease)
        if claimed is None:
            return Outcome(delivery_id, "skipped")
        delivery, sub = claimed
        attempt, payload, kind, evt = (
            delivery.attempts,
            delivery.payload,
            delivery.event_type,
            delivery.event_id,
        )
        if not sub.enabled:
            webhook_queries.finish_delivery(session, delivery_id, "dead", "subscription disabled")
            return Outcome(delivery_id, "dead", attempt, error="subscription disabled")
        url = open_url(outbound.box, sub.url, sub.url_sealed)
        secret = outbound.box.open(sub.secret)
    body = payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-VAD-Event": kind,
        "X-VAD-Event-Id": evt,
        "X-VAD-Attempt": str(attempt),
        SIGNATURE_HEADER: signature_header(secret, body),
    }
    result = post(url, body, headers, config.timeout_seconds, outbound.policy)
    return _book(sessions, delivery_id, attempt, result, config, rng)


def _book(
    sessions: sessionmaker[Session],
    delivery_id: int,
    attempt: int,
    result: webhook_queries.AttemptResult,
    config: WebhookConfig,
    rng: random.Random | None,
) -> Outcome:
    retry_in: float | None = None
    next_at: datetime | None = None
    if result.ok:
        status = "delivered"
    elif attempt >= config.max_attempts:
        status = "dead"
    else:
        status, retry_in = "pending", backoff_seconds(attempt, config, rng)
        next_at = now_utc() + timedelta(seconds=retry_in)
    with transaction(sessions) as session:
        webhook_queries.record_attempt(session, delivery_id, attempt, result, status, next_at)
    if status != "delivered":
        log.warning(
            "webhook delivery %s attempt %s: %s -> %s", delivery_id, attempt, result.error, status
        )
    return Outcome(delivery_id, status, attempt, result.status_code, retry_in, result.error)


# --- Celery wiring -------------------------------------------------------------------------------


Sender = Callable[[int, float], None]


def celery_sender(app) -> Sender:
    """Nudge a delivery through Celery on the webhooks queue, optionally after a delay."""

    def send(delivery_id: int, countdown: float = 0.0) -> None:
        app.send_task(
            DELIVER_WEBHOOK, args=[delivery_id], queue=WEBHOOK_QUEUE, countdown=countdown or None
        )

    return send


def send_deliveries(send: Sender, delivery_ids: list[int]) -> None:
    """Nudge new deliveries after their transaction committed. A broker outage only delays them:
    the sweeper finds them due in the database."""
    for delivery_id in delivery_ids:
        try:
            send(delivery_id, 0.0)
        except Exception as error:  # noqa: BLE001 - the sweeper will pick it up
            log.warning("could not enqueue webhook delivery %s: %s", delivery_id, error)


def sweep(sessions: sessionmaker[Session], send: Sender, limit: int = 500) -> int:
    """Nudge every due pending delivery (lost messages, dead workers, expired leases)."""
    with sessions() as session:
        due = webhook_queries.due_deliveries(session, limit)
    send_deliveries(send, due)
    return len(due)


def register_webhook_tasks(
    app, config: WebhookConfig, sessions: sessionmaker[Session], outbound: Outbound | None = None
) -> None:
    """`outbound` is needed only by a process that runs the delivery task."""
    send = celery_sender(app)

    @app.task(name=DELIVER_WEBHOOK, ignore_result=True, shared=False)
    def deliver_webhook(delivery_id: int) -> str:
        if outbound is None:
            raise RuntimeError("this process was not given the webhook outbound settings")
        outcome = deliver_once(sessions, delivery_id, config, outbound=outbound)
        if outcome.retry_in is not None:
            send(delivery_id, outcome.retry_in)
        return outcome.status

    @app.task(name=SWEEP_WEBHOOKS, ignore_result=True, shared=False)
    def sweep_webhooks() -> int:
        return sweep(sessions, send)
