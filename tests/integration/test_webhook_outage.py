"""Fault: the webhook receiver is down for a minute while the full pipeline produces incidents.

A looping Ped2 camera (9 s normal, then a cyclist: about one incident per 18-s loop)
runs through ingest -> Kafka -> dispatcher -> worker -> tracker, whose transaction writes one
delivery row per incident event. The receiver's port refuses connections for 60 s of real time,
then a real HTTP server comes up on it. Asserted: every incident event has exactly one delivery
(one event id), and the receiver, deduplicating by `X-VAD-Event-Id` as its contract says, ends up
with every one of them: none lost. Retries and raw duplicates are reported (`pytest -s`).

The outage is real time, so the test runs once (embedded broker only; the broker plays no part
in webhook delivery) and takes about two minutes.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text

from db.api_models import WebhookSubscription
from db.session import transaction
from tests.support.mjpeg import free_port
from tests.support.pipeline import Pipeline, make_pipeline, wait_until

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 60.0
WEBHOOK_ENV = {
    "VAD_WINDOWS__REQUEUE_AFTER_SECONDS": "4",
    "VAD_WINDOWS__IDLE_FLUSH_SECONDS": "1",
    "VAD_INCIDENTS__COOLDOWN_SECONDS": "1",
    # Retries every 2, 4, 8, 10, 10... s: a minute's outage costs ~9 attempts per delivery, far
    # from dead-lettering, and recovery is bounded by the 10 s ceiling.
    "VAD_WEBHOOKS__BACKOFF_INITIAL_SECONDS": "2",
    "VAD_WEBHOOKS__BACKOFF_MAX_SECONDS": "10",
    "VAD_WEBHOOKS__MAX_ATTEMPTS": "40",
    "VAD_WEBHOOKS__TIMEOUT_SECONDS": "3",
    "VAD_WEBHOOKS__SWEEP_INTERVAL_SECONDS": "3",
}


class CountingReceiver:
    """A real HTTP receiver on a fixed port: records every POST's event id; dedupes like a
    receiver should (by event id), so raw duplicates are visible separately."""

    def __init__(self, port: int) -> None:
        self.posts: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.posts.append(self.headers["X-VAD-Event-Id"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> Counter:
        with self._lock:
            return Counter(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _subscribe(pipe: Pipeline, url: str) -> None:
    with transaction(pipe.sessions) as session:
        session.add(
            WebhookSubscription(
                url=url,
                secret="whsec_outage_test",
                cameras=None,
                min_score=None,
                enabled=True,
                events=["incident.opened", "incident.updated", "incident.closed"],
            )
        )


def _learn_camera(pipe: Pipeline, ped2, tmp_path) -> None:
    normal = tmp_path / "normal"
    normal.mkdir()
    for name in ("train_01.mp4", "train_02.mp4", "train_03.mp4"):
        shutil.copy(ped2 / "train" / name, normal / name)
    video = str(ped2 / "test" / "test_02.mp4")  # 9 s normal, then 9 s with a cyclist
    added = pipe.vad("camera", "add", "walk", video, "--fps", "5", "--loop", "--disabled")
    assert added.returncode == 0, added.stderr + added.stdout
    learned = pipe.vad("camera", "learn", "walk", "--from", str(normal), timeout=300)
    assert learned.returncode == 0, learned.stderr
    with transaction(pipe.sessions) as session:  # only now, with its model in place
        session.execute(text("UPDATE cameras SET enabled = true WHERE name = 'walk'"))


def _deliveries(pipe: Pipeline) -> list:
    return pipe.rows(
        "SELECT d.event_id, d.event_type, d.incident_id, d.status, d.attempts "
        "FROM webhook_deliveries d ORDER BY d.id"
    )


def _assert_one_delivery_per_event(pipe: Pipeline, deliveries: list) -> None:
    """Each incident has exactly one `opened` delivery, closed ones exactly one `closed`, and no
    event id appears twice."""
    ids = Counter(d.event_id for d in deliveries)
    assert max(ids.values()) == 1, f"an event has two deliveries: {ids.most_common(3)}"
    kinds = Counter((d.incident_id, d.event_type) for d in deliveries)
    for incident in pipe.rows("SELECT id, status FROM incidents"):
        assert kinds[(incident.id, "incident.opened")] == 1, f"incident {incident.id} opened"
        if incident.status == "closed":
            assert kinds[(incident.id, "incident.closed")] == 1, f"incident {incident.id} closed"


@pytest.mark.embedded_broker_only("a real-time minute; the broker plays no part in webhooks")
def test_webhook_receiver_down_for_a_minute(infra, tmp_path, ped2):
    pipe = make_pipeline(infra, tmp_path, **WEBHOOK_ENV)
    receiver: CountingReceiver | None = None
    try:
        _learn_camera(pipe, ped2, tmp_path)
        port = free_port()  # nothing listens here yet: connections are refused
        _subscribe(pipe, f"http://127.0.0.1:{port}/hook")
        for name, *args in (("dispatcher",), ("worker", "--name", "w1"), ("webhook-worker",)):
            pipe.start(name, name, *args)
        ingest = pipe.start("ingest", "ingest")
        down_at = time.monotonic()
        wait_until(
            lambda: pipe.scalar("SELECT count(*) FROM webhook_attempts WHERE NOT ok") >= 1,
            3 * OUTAGE_SECONDS,  # a busy machine may need longer for the first incident
            lambda: (
                "a failed delivery attempt while the receiver is down "
                + str(pipe.rows("SELECT count(*), max(score), min(score) FROM frame_scores"))
                + str(pipe.rows("SELECT id, status, peak_score FROM incidents"))
                + "\n"
                + pipe.logs()
            ),
        )
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        outage = time.monotonic() - down_at  # at least OUTAGE_SECONDS
        during = len(_deliveries(pipe))
        receiver = CountingReceiver(port)
        up_at = time.monotonic()
        wait_until(
            lambda: (
                pipe.scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
                >= during
            ),
            180,
            lambda: f"the {during} deliveries made during the outage\n" + pipe.logs(),
        )
        recovered = time.monotonic() - up_at
        time.sleep(8)  # incidents keep coming with the receiver up
        ingest.terminate()
        _wait_drained(pipe)
        deliveries = _deliveries(pipe)
        _assert_one_delivery_per_event(pipe, deliveries)
        received = receiver.received()
        expected = {d.event_id for d in deliveries}
        assert set(received) == expected, f"lost: {expected - set(received)}"
        assert all(d.status == "delivered" for d in deliveries)
        failed = pipe.scalar("SELECT count(*) FROM webhook_attempts WHERE NOT ok")
        duplicates = sum(received.values()) - len(received)
        print(
            f"\n[fault] webhook receiver down {outage:.0f} s: {during} deliveries made "
            f"during the outage, all delivered {recovered:.1f} s after it came back; "
            f"{len(expected)} events in all, {failed} failed attempts (retries), "
            f"{duplicates} duplicate POSTs, 0 lost"
        )
        assert during >= 1
    finally:
        if receiver is not None:
            receiver.close()
        pipe.close()


def _wait_drained(pipe: Pipeline) -> None:
    """Every window scored, the tracker past the last one, every delivery settled."""
    wait_until(
        lambda: (
            pipe.scalar("SELECT count(*) FROM windows WHERE status <> 'done'") == 0
            and pipe.scalar("SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'")
            == 0
        ),
        90,
        lambda: "scoring and deliveries settled\n" + pipe.logs(),
    )
