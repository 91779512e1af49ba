"""Webhook deliveries against a real HTTP receiver on 127.0.0.1 that fails, times out and then
succeeds. Deliveries are driven by calling `deliver_once` directly (what the Celery task does), so
retries, backoff bookkeeping and dead-lettering are deterministic; signatures are checked with an
independent HMAC implementation."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.tokens import create_token
from db import camera_queries, window_queries
from db.api_models import WebhookSubscription
from db.models import FrameScore, Incident
from db.session import transaction
from tests.support.pipeline import wait_until
from vad.incidents import IncidentConfig
from webhooks.delivery import Outbound, deliver_once, enqueue_incident_event, sweep
from webhooks.settings import WebhookConfig
from workers.tracker import advance_tracker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.embedded_broker_only(
        "database-only: webhooks are delivered from PostgreSQL over HTTP"
    ),
]

SECRET = "whsec_independent_test_secret"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Receiver:
    """A real HTTP server whose answers follow a script: an int status, or 'hang' (answer 200
    only once the test calls `release()`, long after the client's timeout). `on_request(n)` runs
    in the handler as request number n arrives, before any answer: the moment its attempt is
    certainly in flight."""

    def __init__(self, script: list, on_request: Callable[[int], None] | None = None):
        self.script, self.requests = list(script), []
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.headers, body, time.time()))  # case-insensitive
                if on_request is not None:
                    on_request(len(receiver.requests))
                action = receiver.script.pop(0) if receiver.script else 200
                if action == "hang":
                    receiver.released.wait(60)
                    action = 200
                try:
                    self.send_response(action)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self):
        self.released.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(script: list, on_request: Callable[[int], None] | None = None) -> Receiver:
        made.append(Receiver(script, on_request))
        return made[-1]

    yield make
    for r in made:
        r.close()


def independent_verify(secret: str, headers, body: bytes, max_age: float = 300) -> dict:
    """A receiver's check, written from the spec: X-VAD-Signature: t=<ts>,v1=<hex>, where hex =
    HMAC-SHA256(secret, f"{ts}.{body}")."""
    header = headers["X-VAD-Signature"]
    fields = {}
    for part in header.split(","):
        key, _, value = part.partition("=")
        fields[key.strip()] = value.strip()
    ts = int(fields["t"])
    assert abs(time.time() - ts) <= max_age, "stale timestamp (replay?)"
    expected = hmac.new(secret.encode(), f"{ts}.{body.decode()}".encode(), hashlib.sha256)
    assert hmac.compare_digest(expected.hexdigest(), fields["v1"]), "bad signature"
    return json.loads(body)


def setup_event(pipeline, url: str, **sub_fields) -> tuple[int, list[int]]:
    """A camera, a subscription to `url` and one incident.opened event; the new delivery ids."""
    with transaction(pipeline.sessions) as session:
        camera = camera_queries.add_camera(session, "lobby", "rtsp://10.0.0.1/a", None, False)
        sub = WebhookSubscription(
            url=url,
            secret=SECRET,
            cameras=None,
            min_score=None,
            enabled=True,
            events=["incident.opened", "incident.updated", "incident.closed"],
            **sub_fields,
        )
        session.add(sub)
        incident = Incident(
            camera_id=camera.id,
            status="open",
            started_at=T0,
            peak_score=0.9,
            peak_at=T0,
            threshold=0.6,
            scorer="motion",
            first_window_seq=3,
            last_window_seq=3,
            updated_at=T0,
        )
        session.add(incident)
        session.flush()
        return sub.id, enqueue_incident_event(session, "incident.opened", incident)


CONFIG = WebhookConfig(
    timeout_seconds=0.5,
    max_attempts=3,
    backoff_initial_seconds=0.3,
    backoff_max_seconds=5,
    backoff_jitter=0,
    # Longer than any stall of a loaded machine between claiming an attempt and the receiver
    # seeing it, so the in-flight check below sees the lease, not an expired one (no test here
    # lets a worker die mid-attempt, so the lease's length costs no waiting).
    lease_seconds=60,
)


def outbound(pipeline) -> Outbound:
    """The test settings' webhook policy (127.0.0.1 allowlisted) and key."""
    return Outbound.from_settings(pipeline.settings)


def due_at(sessions, delivery_id: int) -> datetime:
    """When the delivery's next attempt is due (what `claim_delivery` compares with)."""
    with sessions() as session:
        return session.execute(
            text("SELECT next_attempt_at FROM webhook_deliveries WHERE id = :i"), {"i": delivery_id}
        ).scalar_one()


def wait_due(sessions, delivery_id: int, deadline: float = 30) -> datetime:
    """Wait until the delivery is due by the database's clock (the one `claim_delivery` reads),
    however late this thread wakes; its due time."""

    def is_due():
        with sessions() as session:
            return session.execute(
                text(
                    "SELECT next_attempt_at <= clock_timestamp() FROM webhook_deliveries "
                    "WHERE id = :i"
                ),
                {"i": delivery_id},
            ).scalar_one()

    wait_until(is_due, deadline, f"delivery {delivery_id} to fall due", every=0.02)
    return due_at(sessions, delivery_id)


def attempt_ended_at(pipeline, delivery_id: int, attempt: int) -> float:
    """The attempt's end as the worker measured it: its start plus its latency (epoch s)."""
    return pipeline.scalar(
        "SELECT extract(epoch FROM started_at) + latency_ms / 1000.0 FROM webhook_attempts "
        "WHERE delivery_id = :d AND attempt = :a",
        d=delivery_id,
        a=attempt,
    )


def attempt_before_due(pipeline, delivery_id: int) -> str:
    """What an attempt made before the delivery is due does. The due time is pushed an hour
    ahead for the call and then put back: with the real backoff (0.3 s) "before it is due"
    would be a race a loaded machine can lose."""
    booked = due_at(pipeline.sessions, delivery_id)
    move = "UPDATE webhook_deliveries SET next_attempt_at = :at WHERE id = :i"
    with transaction(pipeline.sessions) as session:
        session.execute(text(move), {"at": booked + timedelta(hours=1), "i": delivery_id})
    try:
        return deliver_once(
            pipeline.sessions, delivery_id, CONFIG, outbound=outbound(pipeline)
        ).status
    finally:
        with transaction(pipeline.sessions) as session:
            session.execute(text(move), {"at": booked, "i": delivery_id})


def test_fails_then_times_out_then_succeeds_with_one_event_id(pipeline, receiver):
    """The retry is due `backoff` after the failed attempt ENDS (when its failure is known, so a
    slow receiver still gets the whole quiet period), and is never sent before it is due. Both
    are checked on recorded times, not on wall-clock gaps that a busy machine stretches."""
    sessions = pipeline.sessions
    during_second: dict[str, str] = {}

    def on_request(n: int) -> None:  # attempt n is in flight: the receiver has not answered
        if n == 2:
            during_second["status"] = deliver_once(
                sessions, delivery, CONFIG, outbound=outbound(pipeline)
            ).status

    hook = receiver([500, "hang", 200], on_request)
    sub_id, [delivery] = setup_event(pipeline, hook.url)

    first = deliver_once(sessions, delivery, CONFIG, outbound=outbound(pipeline))
    assert (first.status, first.attempt, first.status_code) == ("pending", 1, 500)
    assert first.retry_in == pytest.approx(0.3)
    assert attempt_before_due(pipeline, delivery) == "skipped"
    first_due = wait_due(sessions, delivery)

    second = deliver_once(
        sessions, delivery, CONFIG, outbound=outbound(pipeline)
    )  # the receiver hangs: the client times out
    hook.release()
    assert during_second == {"status": "skipped"}  # leased while in flight: no double send
    assert (second.status, second.attempt, second.status_code) == ("pending", 2, None)
    assert "timed out" in second.error.lower() and second.retry_in == pytest.approx(0.6)
    second_due = wait_due(sessions, delivery)

    third = deliver_once(sessions, delivery, CONFIG, outbound=outbound(pipeline))
    assert (third.status, third.attempt, third.status_code) == ("delivered", 3, 200)
    assert deliver_once(sessions, delivery, CONFIG, outbound=outbound(pipeline)).status == "skipped"

    assert len(hook.requests) == 3
    bodies = [independent_verify(SECRET, h, b) for h, b, _ in hook.requests]
    assert len({b["id"] for b in bodies}) == 1 and {
        h["X-VAD-Event-Id"] for h, _, _ in hook.requests
    } == {bodies[0]["id"]}
    assert bodies[0]["type"] == "incident.opened" and bodies[0]["incident"]["camera"] == "lobby"
    assert [h["X-VAD-Attempt"] for h, _, _ in hook.requests] == ["1", "2", "3"]
    # Backoff counts from the end of the failed attempt (1 ms for rounding the latency) ...
    for attempt, due, backoff in ((1, first_due, 0.3), (2, second_due, 0.6)):
        assert due.timestamp() - attempt_ended_at(pipeline, delivery, attempt) >= backoff - 0.001
    # ... and no retry reaches the receiver before it is due.
    assert hook.requests[1][2] >= first_due.timestamp()
    assert hook.requests[2][2] >= second_due.timestamp()

    rows = pipeline.rows(
        "SELECT attempt, ok, status_code, error IS NOT NULL, latency_ms FROM webhook_attempts "
        "WHERE delivery_id = :d ORDER BY attempt",
        d=delivery,
    )
    assert [tuple(r[:4]) for r in rows] == [
        (1, False, 500, True),
        (2, False, None, True),
        (3, True, 200, False),
    ]
    assert rows[1][4] >= 450  # the 0.5 s timeout, measured (the receiver never answered)

    with transaction(sessions) as session:
        admin = create_token(session, "admin", "admin")
    client = TestClient(create_app(pipeline.settings, sessions))
    log = client.get(
        f"/webhooks/{sub_id}/deliveries", headers={"Authorization": f"Bearer {admin}"}
    ).json()
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == 3
    assert log[0]["event_id"] == bodies[0]["id"] and log[0]["last_status_code"] == 200
    assert [a["status_code"] for a in log[0]["log"]] == [500, None, 200]


def test_dead_letter_after_max_attempts_then_redelivery_keeps_the_id(pipeline, receiver):
    hook = receiver([500, 502, 503])
    sub_id, [delivery] = setup_event(pipeline, hook.url)
    statuses = []
    for _ in range(CONFIG.max_attempts):
        wait_due(pipeline.sessions, delivery)
        statuses.append(
            deliver_once(pipeline.sessions, delivery, CONFIG, outbound=outbound(pipeline)).status
        )
    assert statuses == ["pending", "pending", "dead"]
    assert (
        deliver_once(pipeline.sessions, delivery, CONFIG, outbound=outbound(pipeline)).status
        == "skipped"
    )
    assert (
        pipeline.scalar(
            "SELECT status || ':' || attempts || ':' || last_status_code FROM webhook_deliveries"
        )
        == "dead:3:503"
    )

    with transaction(pipeline.sessions) as session:
        admin = create_token(session, "admin", "admin")
    client = TestClient(create_app(pipeline.settings, pipeline.sessions))
    auth = {"Authorization": f"Bearer {admin}"}
    dead = client.get(
        f"/webhooks/{sub_id}/deliveries", params={"status": "dead"}, headers=auth
    ).json()
    assert [d["id"] for d in dead] == [delivery]
    again = client.post(f"/webhooks/{sub_id}/deliveries/{delivery}/redeliver", headers=auth)
    assert again.status_code == 200 and again.json()["status"] == "pending"

    sent = []
    assert sweep(pipeline.sessions, lambda i, _delay: sent.append(i)) == 1 and sent == [delivery]
    assert (
        deliver_once(pipeline.sessions, delivery, CONFIG, outbound=outbound(pipeline)).status
        == "delivered"
    )
    ids = {independent_verify(SECRET, h, b)["id"] for h, b, _ in hook.requests}
    assert len(hook.requests) == 4 and len(ids) == 1
    metrics = client.get("/metrics", headers=auth).text
    assert "vad_webhook_attempt_failures_total 3" in metrics


def test_enqueue_is_idempotent_and_filters_subscriptions(pipeline):
    with transaction(pipeline.sessions) as session:
        lobby = camera_queries.add_camera(session, "lobby", "rtsp://10.0.0.1/a", None, False)
        camera_queries.add_camera(session, "gate", "rtsp://10.0.0.1/b", None, False)
        all_events = ["incident.opened", "incident.updated", "incident.closed"]
        subs = {
            "all": WebhookSubscription(
                url="http://127.0.0.1:9/a", secret=SECRET, events=all_events
            ),
            "gate": WebhookSubscription(
                url="http://127.0.0.1:9/b", secret=SECRET, events=all_events, cameras=["gate"]
            ),
            "high": WebhookSubscription(
                url="http://127.0.0.1:9/c", secret=SECRET, events=all_events, min_score=0.95
            ),
            "closed": WebhookSubscription(
                url="http://127.0.0.1:9/d", secret=SECRET, events=["incident.closed"]
            ),
            "off": WebhookSubscription(
                url="http://127.0.0.1:9/e", secret=SECRET, events=all_events, enabled=False
            ),
        }
        session.add_all(subs.values())
        incident = Incident(
            camera_id=lobby.id,
            status="open",
            started_at=T0,
            peak_score=0.9,
            peak_at=T0,
            threshold=0.6,
            first_window_seq=1,
            last_window_seq=1,
            updated_at=T0,
        )
        session.add(incident)
        session.flush()
        first = enqueue_incident_event(session, "incident.opened", incident)
        assert enqueue_incident_event(session, "incident.opened", incident) == []
        closed = enqueue_incident_event(session, "incident.closed", incident)
        matched = {s.id: name for name, s in subs.items()}
    assert len(first) == 1 and len(closed) == 2
    rows = pipeline.rows("SELECT subscription_id, event_type, event_id FROM webhook_deliveries")
    assert sorted((matched[s], t) for s, t, _ in rows) == [
        ("all", "incident.closed"),
        ("all", "incident.opened"),
        ("closed", "incident.closed"),
    ]
    assert len({e for _, t, e in rows if t == "incident.closed"}) == 1


def test_tracker_hook_creates_deliveries_in_its_transaction(pipeline):
    """What workers/tasks.py will do: pass enqueue_incident_event as advance_tracker's on_event."""
    with transaction(pipeline.sessions) as session:
        camera = camera_queries.add_camera(session, "lobby", "rtsp://10.0.0.1/a", None, False).id
        session.add(
            WebhookSubscription(
                url="http://127.0.0.1:9/a",
                secret=SECRET,
                events=["incident.opened", "incident.closed"],
            )
        )
        window = window_queries.insert_window(
            session,
            camera_id=camera,
            topic="t",
            topic_id="tid",
            partition=0,
            first_offset=0,
            last_offset=59,
            context_offset=None,
            n_frames=60,
            start_at=T0.timestamp(),
            end_at=T0.timestamp() + 6,
            end_of_stream=True,
        )
        window.status = "done"
        for n in range(60):  # 10 fps: quiet, 3 s of high scores, quiet
            session.add(
                FrameScore(
                    window_id=window.id,
                    camera_id=camera,
                    kafka_offset=n,
                    frame_index=n,
                    captured_at=datetime.fromtimestamp(T0.timestamp() + n / 10, UTC),
                    ingested_at=T0,
                    score=0.95 if 10 <= n < 40 else 0.05,
                    raw=0.0,
                )
            )
    new: list[int] = []
    config = IncidentConfig(smoothing_seconds=0, min_duration_seconds=0.5, cooldown_seconds=0.5)
    with transaction(pipeline.sessions) as session:
        advance_tracker(
            session,
            camera,
            0.6,
            config,
            on_event=lambda kind, inc: new.extend(enqueue_incident_event(session, kind, inc)),
        )
    kinds = pipeline.rows("SELECT event_type FROM webhook_deliveries ORDER BY id")
    assert [k for (k,) in kinds] == ["incident.opened", "incident.closed"] and len(new) == 2
