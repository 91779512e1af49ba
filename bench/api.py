"""REST API latency of typical incident queries over 100k incidents.

Starts only the embedded PostgreSQL (Kafka and Redis are not needed: the app gets no frame
reader), migrates a scratch database, bulk-inserts N incidents over 30 days on 20 cameras with one
`INSERT ... SELECT generate_series` (about 2% still open, peak scores uniform in [0.6, 1)), runs
ANALYZE, then sends each query R times through the ASGI app in-process (FastAPI TestClient, a
read token) and reports p50/p95/max in ms. The time covers the whole request: auth lookup, the
page query, the count(*) of the total, serialization, and the TestClient transport.

    taskset -c 1 .venv/bin/python bench/api.py [--incidents 100000] [--repeat 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.tokens import create_token  # noqa: E402
from db.session import make_engine, make_sessionmaker, transaction, upgrade_database  # noqa: E402
from service.infra import Infrastructure  # noqa: E402
from service.settings import Settings  # noqa: E402

CAMERAS = 20
DAYS = 30

SEED_SQL = """
INSERT INTO incidents (camera_id, status, started_at, ended_at, peak_score, peak_at, threshold,
                       scorer, rule, first_window_seq, last_window_seq, created_at, updated_at)
SELECT c.id,
       CASE WHEN s.g % 50 = 0 THEN 'open' ELSE 'closed' END,
       s.t,
       CASE WHEN g % 50 = 0 THEN NULL ELSE s.t + (5 + g % 120) * interval '1 second' END,
       0.6 + 0.4 * random(),
       s.t + interval '2 seconds',
       0.6,
       CASE WHEN g % 3 = 0 THEN 'normality' ELSE 'motion' END,
       'score smoothed over 1s >= 0.6 for 1s',
       g, g, s.t, s.t
FROM (
    SELECT g, CAST(:now AS timestamptz) - (:span * random()) * interval '1 second' AS t
    FROM generate_series(1, :n) AS g
) AS s
JOIN cameras c ON c.name = 'cam-' || lpad(((s.g % :cams) + 1)::text, 2, '0')
"""


def seed_cameras(session, count: int) -> None:
    """`count` online cameras named cam-01, cam-02, ... (the synthetic incidents refer to them)."""
    session.execute(
        text(
            "INSERT INTO cameras (name, url, loop, enabled, status, kept_frames, "
            "pruned_frames, dropped_frames, resume_index, next_window_seq) "
            "SELECT 'cam-' || lpad(g::text, 2, '0'), 'rtsp://10.0.0.1/' || g, false, "
            "true, 'online', 0, 0, 0, 0, 0 FROM generate_series(1, :cams) g"
        ),
        {"cams": count},
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100, help="requests per query")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="vad-bench-api-"))
    settings = Settings(
        _env_file=None,
        data_dir=scratch / "var",
        database_url=None,
        kafka_bootstrap="unused:1",  # Infrastructure starts only what is not configured
        celery_broker="redis://unused",
    )
    stack = Infrastructure(settings)
    try:
        endpoints = stack.start()
        upgrade_database(endpoints.database_url)
        sessions = make_sessionmaker(make_engine(endpoints.database_url))
        now = datetime.now(UTC).replace(microsecond=0)
        clock = time.perf_counter()
        with transaction(sessions) as session:
            seed_cameras(session, CAMERAS)
            session.execute(
                text(SEED_SQL),
                {"n": args.incidents, "now": now, "span": DAYS * 86400, "cams": CAMERAS},
            )
            token = create_token(session, "bench", "read")
        with sessions() as session:
            session.connection().exec_driver_sql("ANALYZE")
            count = session.execute(text("SELECT count(*) FROM incidents")).scalar()
        insert_seconds = time.perf_counter() - clock
        client = TestClient(create_app(settings, sessions))
        headers = {"Authorization": f"Bearer {token}"}
        since = (now - timedelta(days=3)).isoformat()
        queries = {
            "newest (default: -started_at, limit 50)": {},
            "camera + since 3 days": {"camera": "cam-07", "since": since},
            "min_score 0.95": {"min_score": 0.95},
            "sort -peak_score": {"sort": "-peak_score"},
            "page 50 (offset 2450, limit 50)": {"offset": 2450, "limit": 50},
            "status open": {"status": "open"},
            "text 'cam-07'": {"text": "cam-07"},
        }
        results = {}
        for name, params in queries.items():
            for _ in range(5):  # warm caches and connections
                client.get("/incidents", params=params, headers=headers)
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                response = client.get("/incidents", params=params, headers=headers)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text
            page = response.json()
            results[name] = {
                "params": params,
                "total": page["total"],
                "items": len(page["items"]),
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 0.95), 1),
                "max_ms": round(max(times), 1),
            }
            row = results[name]
            print(
                f"{name:42s} total={row['total']:>6} p50={row['p50_ms']:6.1f} ms "
                f"p95={row['p95_ms']:6.1f} ms max={row['max_ms']:6.1f} ms",
                flush=True,
            )
        print(
            json.dumps(
                {
                    "incidents": count,
                    "cameras": CAMERAS,
                    "insert_and_analyze_seconds": round(insert_seconds, 1),
                    "repeat": args.repeat,
                    "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                    "python": platform.python_version(),
                    "results": results,
                },
                indent=2,
            )
        )
    finally:
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
