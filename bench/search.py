"""Grounding and incident-search latency.

1. Grounding: one camera, 24 h of 1-fps frame embeddings (86,400 x 512 float32, synthetic unit
   vectors with a planted 30 s event), `vad.grounding.ground` top-5: similarity, resampling,
   smoothing, ~250k proposals, NMS. Reading the embeddings from PostgreSQL is not included.
2. Search: embedded PostgreSQL, N incidents on 20 cameras over 30 days; each gets a real UCA
   sentence as its caption (cycled over the first U distinct sentences of the test split, its
   MiniLM embedding plus a little noise so vectors are distinct), HNSW + GIN built, ANALYZE; then
   `Searcher.search` end to end (query embedding in numpy, HNSW candidates, full-text candidates,
   RRF, details) for a few queries and filters, R times each.

    taskset -c 1 .venv/bin/python bench/search.py [--incidents 100000] [--unique 600] [--repeat 20]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.searcher import Searcher  # noqa: E402
from bench.api import percentile, seed_cameras  # noqa: E402
from db.search import Filters  # noqa: E402
from db.session import make_engine, make_sessionmaker, transaction, upgrade_database  # noqa: E402
from service.infra import Infrastructure  # noqa: E402
from service.settings import Settings  # noqa: E402
from vad.grounding import ground, uca  # noqa: E402
from vad.grounding.config import GroundingConfig  # noqa: E402
from vad.text import SentenceEncoder  # noqa: E402

CAMERAS = 20
DAYS = 30
UCA_DIR = ROOT.parent / "shared" / "data" / "uca"
SEED_SQL = """
INSERT INTO incidents (camera_id, status, started_at, ended_at, peak_score, peak_at, threshold,
    scorer, rule, first_window_seq, last_window_seq)
SELECT 1 + (g % :cams), 'closed', :now - (g::float8 * :span / :n) * interval '1 second',
    :now - (g::float8 * :span / :n) * interval '1 second' + interval '20 seconds',
    0.6 + 0.4 * random(), :now - (g::float8 * :span / :n) * interval '1 second', 0.6, 'motion',
    'score over threshold', 0, 0
FROM generate_series(1, :n) g
"""


def timed(fn, repeat: int) -> dict:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
    }


def bench_grounding(repeat: int) -> dict:
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((86_400, 512), dtype=np.float32)
    query = rng.standard_normal(512).astype(np.float32)
    frames[50_000:50_030] += 0.4 * query * np.sqrt(512) / np.linalg.norm(query)
    frames /= np.linalg.norm(frames, axis=1, keepdims=True)
    times = 1.7e9 + np.arange(86_400, dtype=np.float64)
    config = GroundingConfig()
    found = ground(query, frames, times, config, k=5)
    result = timed(lambda: ground(query, frames, times, config, k=5), repeat)
    result["top1_offset_s"] = [round(found[0].start - times[0]), round(found[0].end - times[0])]
    print(f"grounding 86,400 x 512: {result}", flush=True)
    return result


def seed(sessions, encoder: SentenceEncoder, n: int, unique: int) -> float:
    sentences = list(
        dict.fromkeys(
            q.sentence for v in uca.load(uca.split_file(UCA_DIR, "Test")) for q in v.queries
        )
    )[:unique]
    clock = time.perf_counter()
    vectors = encoder.embed(sentences)
    print(f"embedded {len(sentences)} sentences in {time.perf_counter() - clock:.0f} s", flush=True)
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(sessions) as session:
        seed_cameras(session, CAMERAS)
        session.execute(text(SEED_SQL), {"n": n, "now": now, "span": DAYS * 86400, "cams": CAMERAS})
    rng = np.random.default_rng(1)
    buffer = io.StringIO()
    for i in range(n):
        v = vectors[i % len(sentences)] + rng.normal(0, 0.02, 384).astype(np.float32)
        v /= np.linalg.norm(v)
        caption = sentences[i % len(sentences)].replace("\\", "\\\\").replace("\t", " ")
        vec = "[" + ",".join(f"{x:.5f}" for x in v) + "]"
        buffer.write(f"{i + 1}\tcaption\t{caption}\t{vec}\tall-MiniLM-L6-v2\n")
    clock = time.perf_counter()
    engine = sessions.kw["bind"]
    with engine.raw_connection() as raw:
        cursor = raw.cursor()
        cursor.execute("DROP INDEX ix_incident_texts_hnsw")  # bulk load first, then build once
        with cursor.copy(
            "COPY incident_texts (incident_id, source, body, embedding, model) FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            "CREATE INDEX ix_incident_texts_hnsw ON incident_texts "
            "USING hnsw (embedding vector_cosine_ops)"
        )
        raw.commit()
    with sessions() as session:
        session.connection().exec_driver_sql("ANALYZE")
    return time.perf_counter() - clock


def bench_search(n: int, unique: int, repeat: int) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="vad-bench-search-"))
    settings = Settings(
        _env_file=None,
        data_dir=scratch / "var",
        database_url=None,
        kafka_bootstrap="unused:1",
        celery_broker="redis://unused",
    )
    stack = Infrastructure(settings)
    try:
        endpoints = stack.start()
        upgrade_database(endpoints.database_url)
        sessions = make_sessionmaker(make_engine(endpoints.database_url))
        searcher = Searcher(settings)
        encoder = searcher.text_encoder()
        load_seconds = seed(sessions, encoder, n, unique)
        with sessions() as session:
            count = session.execute(
                text(
                    "SELECT count(DISTINCT incident_id) FROM incident_texts "
                    "WHERE embedding IS NOT NULL"
                )
            ).scalar()
        since = datetime.now(UTC) - timedelta(days=3)
        cases = {
            "'a man set a car on fire'": ("a man set a car on fire", Filters()),
            "'two men fighting in a store'": ("two men fighting in a store", Filters()),
            "'motorcycle' (one word)": ("motorcycle", Filters()),
            "fire + camera cam-07": ("a man set a car on fire", Filters(camera="cam-07")),
            "fire + since 3 days": ("a man set a car on fire", Filters(since=since)),
        }
        results = {"query embedding only": timed(lambda: encoder.embed(["a car on fire"]), repeat)}
        for name, (words, filters) in cases.items():

            def once(words=words, filters=filters):
                with transaction(sessions) as session:
                    return searcher.search(session, words, filters, limit=20, moments=False)

            results[name] = timed(once, repeat)
            results[name]["hits"] = len(once().incidents)
            print(f"search {name}: {results[name]}", flush=True)
        return {"incidents": count, "load_index_analyze_seconds": round(load_seconds, 1)} | {
            "results": results
        }
    finally:
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--unique", type=int, default=600, help="distinct UCA sentences")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "grounding_24h_1fps": bench_grounding(args.repeat),
        "search": bench_search(args.incidents, args.unique, args.repeat),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
