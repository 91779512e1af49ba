"""Every SQL query of the Grafana dashboards runs against the real schema.

Grafana's PostgreSQL macros are expanded the way Grafana does ($__timeFilter -> BETWEEN,
$__timeGroupAlias -> epoch bucketing aliased "time", multi-value variables -> quoted lists).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from db import camera_queries
from db.session import transaction
from tests.support.pipeline import REPO_ROOT, Pipeline
from vad.types import IngestReport

pytestmark = [
    pytest.mark.integration,
    pytest.mark.embedded_broker_only("database-only: SQL on the real schema"),
]

DASHBOARDS = sorted((REPO_ROOT / "dashboards" / "grafana" / "dashboards").glob("*.json"))
_INTERVALS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def dashboard_queries(path: Path) -> list[str]:
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("rawSql", "query") and isinstance(value, str) and "SELECT" in value:
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    return list(walk(json.loads(path.read_text())))


def _seconds(interval: str) -> int:
    match = re.fullmatch(r"'?(\d+)([smhd])'?", interval.strip())
    assert match, f"unknown interval {interval!r}"
    return int(match[1]) * _INTERVALS[match[2]]


def expand_macros(sql: str, cameras: list[str]) -> str:
    sql = sql.replace("$__interval", "'60s'")
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m[1]} BETWEEN now() - interval '6 hours' AND now() + interval '1 hour'",
        sql,
    )

    def group(match: re.Match) -> str:
        column, interval, *_ = [part.strip() for part in match[1].split(",")]
        secs = _seconds(interval)
        return f'to_timestamp(floor(extract(epoch FROM {column}) / {secs}) * {secs}) AS "time"'

    sql = re.sub(r"\$__timeGroupAlias\(([^)]+)\)", group, sql)
    sql = sql.replace("$camera", ",".join(f"'{c}'" for c in cameras))
    assert "$" not in sql.replace("$$", ""), f"unexpanded macro in:\n{sql}"
    return sql


def seed(pipe: Pipeline) -> None:
    with pipe.sessions() as session, session.begin():
        session.execute(
            text(
                "INSERT INTO cameras (id, name, url, loop, enabled, status, kept_frames,"
                " pruned_frames, dropped_frames, resume_index, next_window_seq, fps, source_fps,"
                " analysed_fps) VALUES (1, 'gate', 'rtsp://x/1', false, true, 'online', 10, 2, 0,"
                " 0, 1, 10, 25, 8.333), (2, 'lobby', 'rtsp://x/2', false, true, 'offline', 0, 0, 0,"
                " 0, 0, NULL, NULL, NULL)"
            )
        )
        session.execute(
            text(
                "INSERT INTO windows (id, camera_id, seq, topic, topic_id, partition, first_offset,"
                " last_offset, n_frames, end_of_stream, start_at, end_at, status, attempts)"
                " VALUES (1, 1, 0, 'frames', 't', 0, 0, 9, 10, false, now() - interval '5 min',"
                " now() - interval '4 min', 'done', 1)"
            )
        )
        session.execute(
            text(
                "INSERT INTO frame_scores (window_id, camera_id, kafka_offset, frame_index,"
                " captured_at, ingested_at, scored_at, score, raw) SELECT 1, 1, g, g,"
                " now() - interval '5 min' + g * interval '1 s', now() - interval '5 min',"
                " now() - interval '4 min', g / 10.0, g FROM generate_series(0, 9) g"
            )
        )
        session.execute(
            text(
                "INSERT INTO incidents (camera_id, status, started_at, ended_at, peak_score,"
                " peak_at, threshold, first_window_seq, last_window_seq) VALUES (1, 'closed',"
                " now() - interval '5 min', now() - interval '4 min', 0.9,"
                " now() - interval '5 min', 0.6, 0, 0)"
            )
        )


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda p: p.stem)
def test_every_dashboard_query_runs(pipeline: Pipeline, dashboard: Path):
    queries = dashboard_queries(dashboard)
    assert queries, f"{dashboard.name} has no SQL"
    seed(pipeline)
    with pipeline.sessions() as session:
        for cameras in (["gate", "lobby"], ["gate"]):
            for sql in queries:
                session.execute(text(expand_macros(sql, cameras))).all()


def test_camera_status_shows_the_fps_setting_beside_the_source_and_analysed_rates(
    pipeline: Pipeline,
):
    """The setting, what the source announced and the rate ingest analysed it at, as ingest
    stored it: the SQL reads it, it does not recompute it (the stride rule has one owner,
    vad.sampling)."""
    (sql,) = [q for q in dashboard_queries(DASHBOARDS[0]) if "c.source_fps" in q]
    seed(pipeline)
    report = IngestReport(1, "online", None, 0, 0, 0, None, source_fps=25.0, analysed_fps=25 / 3)
    with transaction(pipeline.sessions) as session:  # as ingest's status sink stores it
        camera_queries.apply_ingest_report(session, report)
    with pipeline.sessions() as session:
        rows = session.execute(text(expand_macros(sql, ["gate", "lobby"]))).mappings().all()
    assert [(r["name"], r["fps setting"], r["source fps"], r["analysed fps"]) for r in rows] == [
        ("gate", 10, 25, pytest.approx(25 / 3)),
        ("lobby", None, None, None),
    ]
    assert "analysed_fps" not in sql.replace("c.analysed_fps", "")  # read, not computed
