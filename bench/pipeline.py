"""End-to-end pipeline throughput and latency on UCSD Ped2 test footage.

Starts the embedded stack (PostgreSQL, tansu, Redis, dispatcher, N Celery workers) in a scratch
data dir, learns one normality model per camera from Ped2 training clips, then replays all 12 test
videos at once, as fast as ingest can read them (one camera per video), and reports:
- frames/s through the whole pipeline (first frame published -> last score row written),
- capture -> score-row latency p50/p95/p99 (capture = the moment ingest published the frame,
  since a fast replay has no real capture clock).

    .venv/bin/python bench/pipeline.py [--workers 2] [--train-clips 4] [--cameras 12] [--realtime]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db import camera_queries, model_registry  # noqa: E402
from db.session import make_engine, make_sessionmaker, transaction  # noqa: E402
from ingest.camera import CameraIngestor, CameraSpec  # noqa: E402
from ingest.publisher import FramePublisher  # noqa: E402
from ingest.service import report  # noqa: E402
from service.ingest_db import status_sink  # noqa: E402
from service.learning import file_clips  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.supervisor import Stack  # noqa: E402
from vad.scoring.normality import fit_normality_model  # noqa: E402

PED2 = ROOT.parent / "shared" / "data" / "ucsd_ped2"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-clips", type=int, default=4)
    parser.add_argument("--cameras", type=int, default=12, help="test videos replayed at once")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="play at 10 fps like live cameras (latency without a backlog)",
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="vad-bench-"))
    settings = Settings(
        data_dir=scratch / "var",
        model_dir=scratch / "models",
        database_url=None,
        kafka_bootstrap=None,
        celery_broker=None,
    )
    stack = Stack(settings, workers=args.workers, ingest=False)
    endpoints = stack.start()
    try:
        result = run(settings, endpoints, args)
    finally:
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result, indent=2))


def run(settings: Settings, endpoints, args) -> dict:
    sessions = make_sessionmaker(make_engine(endpoints.database_url))
    videos = sorted((PED2 / "test").glob("*.mp4"))[: args.cameras]
    train = sorted((PED2 / "train").glob("*.mp4"))[: args.train_clips]
    model = fit_normality_model(file_clips(train, 10.0, settings.ingest), settings.normality)
    ids = []
    with transaction(sessions) as session:
        for video in videos:
            camera = camera_queries.add_camera(session, video.stem, str(video), 10.0, False, False)
            directory = settings.model_dir / video.stem / "v1"
            model.save(directory)
            model_registry.register_model(session, camera.id, 1, str(directory), 0, "bench", {})
            ids.append((camera.id, video))
    publisher = FramePublisher(endpoints.kafka_bootstrap, settings.kafka_topic, settings.ingest)
    ingestors = [
        CameraIngestor(
            CameraSpec(cid, video.stem, str(video), 10.0, False),
            settings.ingest,
            publisher,
            pace=args.realtime,
        )
        for cid, video in ids
    ]
    t0 = time.time()
    for ingestor in ingestors:
        ingestor.start()
    for ingestor in ingestors:
        ingestor.finished.wait()
    publisher.flush()
    time.sleep(0.3)
    kept = report(status_sink(sessions), ingestors) or 0
    publish_seconds = time.time() - t0
    deadline = time.time() + 600
    while time.time() < deadline:
        with sessions() as session:
            scored = session.execute(text("SELECT count(*) FROM frame_scores")).scalar()
        if scored >= kept:
            break
        time.sleep(0.2)
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT extract(epoch FROM scored_at - ingested_at), extract(epoch FROM scored_at) "
                "FROM frame_scores"
            )
        ).all()
        incidents = session.execute(text("SELECT count(*) FROM incidents")).scalar()
    latency = np.array([float(r[0]) for r in rows])
    last_scored = max(float(r[1]) for r in rows)
    publisher.close()
    return {
        "machine": f"{platform.node()} {platform.machine()}, {_cores()} cores, no GPU",
        "date": time.strftime("%Y-%m-%d"),
        "workers": args.workers,
        "mode": "realtime" if args.realtime else "fast",
        "cameras": len(ids),
        "kept_frames": kept,
        "scored_frames": len(rows),
        "ingest_publish_seconds": round(publish_seconds, 2),
        "end_to_end_seconds": round(last_scored - t0, 2),
        "frames_per_second": round(len(rows) / (last_scored - t0), 1),
        "latency_seconds": {
            "p50": round(float(np.percentile(latency, 50)), 3),
            "p95": round(float(np.percentile(latency, 95)), 3),
            "p99": round(float(np.percentile(latency, 99)), 3),
        },
        "incidents": incidents,
    }


def _cores() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
