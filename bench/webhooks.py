"""Webhook delivery throughput, and time from incident open to webhook received.

Starts only the embedded PostgreSQL and a real HTTP receiver on 127.0.0.1 (ThreadingHTTPServer,
answers 200 at once, records the arrival time of each event id).

1. Throughput: N incidents are bulk-inserted and one `incident.opened` delivery per incident is
   enqueued (`enqueue_incident_event`); then `deliver_once` (what the Celery task runs) is called
   for every delivery from a thread pool of W threads. deliveries/s = N / wall time of that phase;
   every delivery is a claim transaction, an HMAC-signed HTTP POST and a booking transaction.
2. Open-to-received: T trials on one camera. Each trial has a window of 20 frames at 10 fps
   scored 0.95 (opens an incident after the default 1 s minimum duration) and an end-of-stream
   window scored 0.05 (closes it). Timed: one tracker step, exactly like a scoring worker's —
   in one transaction the window is marked done and `advance_tracker(..., on_event=
   enqueue_incident_event)` creates the incident and its delivery; after commit the delivery is
   sent at once with `deliver_once` (standing in for the Celery worker picking up the nudge).
   Reported: received_at - start of the tracker step, and received_at - commit (incident and
   delivery visible). Not included: scoring the window, and the Redis/Celery hop of the nudge.

    taskset -c 1 .venv/bin/python bench/webhooks.py [--deliveries 2000] [--threads 8] [--trials 50]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db import camera_queries, window_queries  # noqa: E402
from db.api_models import WebhookSubscription  # noqa: E402
from db.models import FrameScore, Incident, Window  # noqa: E402
from db.session import make_engine, make_sessionmaker, transaction, upgrade_database  # noqa: E402
from service.infra import Infrastructure  # noqa: E402
from service.settings import Settings  # noqa: E402
from webhooks.delivery import (  # noqa: E402
    Outbound,
    deliver_once,
    enqueue_incident_event,
    webhook_config,  # noqa: E402
)
from workers.tracker import advance_tracker  # noqa: E402


class Receiver:
    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers["Content-Length"]))
                arrived = time.time()
                with receiver.lock:
                    receiver.received[self.headers["X-VAD-Event-Id"]] = arrived
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def throughput(sessions, config, outbound, receiver: Receiver, n: int, threads: int) -> dict:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        camera = camera_queries.add_camera(session, "bulk", "rtsp://10.0.0.1/bulk", None, False)
        session.execute(
            text(
                "INSERT INTO incidents (camera_id, status, started_at, peak_score, peak_at, "
                "threshold, scorer, rule, first_window_seq, last_window_seq, updated_at) "
                "SELECT :cam, 'open', :now, 0.9, :now, 0.6, 'motion', 'bench', g, g, :now "
                "FROM generate_series(1, :n) g"
            ),
            {"cam": camera.id, "now": now, "n": n},
        )
        incidents = session.scalars(select(Incident).where(Incident.camera_id == camera.id))
        ids = [d for i in incidents for d in enqueue_incident_event(session, "incident.opened", i)]
    assert len(ids) == n, len(ids)
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(
            pool.map(lambda d: deliver_once(sessions, d, config, outbound=outbound), ids)
        )
    elapsed = time.perf_counter() - start
    delivered = sum(o.status == "delivered" for o in outcomes)
    assert delivered == n, f"only {delivered} of {n} delivered"
    assert len(receiver.received) >= n
    return {
        "deliveries": n,
        "threads": threads,
        "seconds": round(elapsed, 2),
        "deliveries_per_s": round(n / elapsed, 1),
    }


def open_to_received(sessions, settings, config, outbound, receiver: Receiver, trials: int) -> dict:
    base = time.time() - 3600
    with transaction(sessions) as session:
        camera = camera_queries.add_camera(
            session, "tracked", "rtsp://10.0.0.1/tracked", None, False
        )
        camera_id = camera.id
        for k in range(2 * trials):  # even: 20 high frames, odd: 10 low frames + end of stream
            first = base + 10 * k
            n, score = (20, 0.95) if k % 2 == 0 else (10, 0.05)
            window = window_queries.insert_window(
                session,
                camera_id=camera_id,
                topic="t",
                topic_id="tid",
                partition=0,
                first_offset=100 * k,
                last_offset=100 * k + n - 1,
                context_offset=None,
                n_frames=n,
                start_at=first,
                end_at=first + (n - 1) / 10,
                end_of_stream=k % 2 == 1,
            )
            for i in range(n):
                session.add(
                    FrameScore(
                        window_id=window.id,
                        camera_id=camera_id,
                        kafka_offset=100 * k + i,
                        frame_index=i,
                        captured_at=datetime.fromtimestamp(first + i / 10, UTC),
                        ingested_at=datetime.fromtimestamp(first + i / 10, UTC),
                        score=score,
                        raw=score,
                    )
                )
    threshold = settings.incidents.default_threshold
    from_step, from_commit = [], []
    for k in range(2 * trials):
        created: list[int] = []
        step_start = time.time()
        with transaction(sessions) as session:
            session.execute(
                update(Window)
                .where(Window.camera_id == camera_id, Window.seq == k)
                .values(status="done", scored_at=datetime.now(UTC))
            )

            def on_event(kind: str, incident: Incident, session=session, out=created) -> None:
                out.extend(enqueue_incident_event(session, kind, incident))

            advance_tracker(session, camera_id, threshold, settings.incidents, on_event)
        committed = time.time()
        outcomes = [deliver_once(sessions, d, config, outbound=outbound) for d in created]
        if k % 2 == 1:
            assert not created, "the subscription is for incident.opened only"
            continue
        assert len(created) == 1 and outcomes[0].status == "delivered", outcomes
        with sessions() as session:
            event_id = session.scalar(
                text("SELECT event_id FROM webhook_deliveries WHERE id = :d"), {"d": created[0]}
            )
        arrived = receiver.received[event_id]
        from_step.append((arrived - step_start) * 1000)
        from_commit.append((arrived - committed) * 1000)

    def summary(values: list[float]) -> dict:
        return {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(pct(values, 0.95), 1),
            "max_ms": round(max(values), 1),
        }

    return {
        "trials": len(from_step),
        "tracker_step_start_to_received": summary(from_step),
        "commit_to_received": summary(from_commit),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="vad-bench-webhooks-"))
    settings = Settings(
        _env_file=None,
        data_dir=scratch / "var",
        database_url=None,
        kafka_bootstrap="unused:1",  # Infrastructure starts only what is not configured
        celery_broker="redis://unused",
        security={"allowlist": ["127.0.0.1/32"]},  # the receiver runs on this machine
    )
    stack = Infrastructure(settings)
    receiver = Receiver()
    try:
        endpoints = stack.start()
        upgrade_database(endpoints.database_url)
        sessions = make_sessionmaker(
            make_engine(endpoints.database_url, pool_size=args.threads + 2)
        )
        config = webhook_config(settings)
        outbound = Outbound.from_settings(settings)
        with transaction(sessions) as session:
            session.add(
                WebhookSubscription(
                    url=receiver.url,
                    secret="whsec_bench",
                    cameras=None,
                    min_score=None,
                    events=["incident.opened"],
                    enabled=True,
                )
            )
        result = {
            "throughput": throughput(
                sessions, config, outbound, receiver, args.deliveries, args.threads
            ),
            "open_to_received": open_to_received(
                sessions, settings, config, outbound, receiver, args.trials
            ),
            "webhook_timeout_s": config.timeout_seconds,
        }
        print(json.dumps(result, indent=2))
    finally:
        receiver.close()
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
