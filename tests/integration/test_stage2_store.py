"""Stage-2 storage on the real database: requests from incident events (with the per-incident
cap), the worker's budget, unparsed ratings filled from neighbours, refinement, the fused incident
score and the metrics. Frames are real Ped2 frames handed over by an in-memory log reader; the
models are an OpenAI-compatible server on 127.0.0.1 with scripted answers."""

from __future__ import annotations

from datetime import timedelta

import cv2
import pytest

from api import metrics
from db import camera_queries, clock, metrics_queries, model_registry, window_queries
from db import stage2 as s2
from db.models import Incident
from db.session import transaction
from frames.reader import LogRecord
from frames.record import FrameMeta
from service.settings import Settings
from tests.support.chat_server import ChatServer, has_image, prompt_text
from vad.codec import encode_jpeg
from vad.stage2.budget import TokenBucket
from vad.stage2.loading import build_chain
from vad.stage2.weight import fit_weight, fuse, save_ratings
from workers.stage2 import Stage2Runner

pytestmark = [
    pytest.mark.integration,
    pytest.mark.embedded_broker_only("database-only: frames come from an in-memory log"),
]

T0 = 1_700_000_000.0
FPS = 10
PER_WINDOW = 10


class MemoryLog:
    """FrameReader's interface over records kept in memory."""

    def __init__(self) -> None:
        self.records: dict[int, LogRecord] = {}

    def iter_range(
        self, topic: str, partition: int, first: int, last: int, timeout: float = 15.0
    ) -> list[LogRecord]:
        return [self.records[o] for o in range(first, last + 1) if o in self.records]


class ScriptedModels:
    """Captions and summaries are fixed; ratings follow the script, one per rating request."""

    def __init__(self, ratings: list[str]) -> None:
        self.ratings = list(ratings)

    def __call__(self, body: dict) -> tuple[int, str]:
        text = prompt_text(body)
        if has_image(body):
            return 200, "A person pushes a cart along the walkway."
        if "Answer:" in text:
            return 200, self.ratings.pop(0)
        if "Summary:" in text:
            return 200, "A person pushes a cart through pedestrians on the walkway."
        return 200, "A cart on a pedestrian walkway is unusual."


@pytest.fixture
def setup(pipeline, ped2):
    """A camera with 5 windows of real Ped2 frames and one incident spanning them."""
    capture = cv2.VideoCapture(str(ped2 / "test" / "test_04.mp4"))
    log = MemoryLog()
    with transaction(pipeline.sessions) as session:
        camera = camera_queries.add_camera(
            session, "walkway", "file.mp4", FPS, False, enabled=False
        )
        camera.context = "Walkway: pedestrians only."
        windows = []
        for w in range(5):
            first = w * PER_WINDOW
            for i in range(first, first + PER_WINDOW):
                ok, frame = capture.read()
                assert ok
                meta = FrameMeta(camera.id, i, T0 + i / FPS, T0 + i / FPS)
                log.records[i] = LogRecord(i, camera.id, encode_jpeg(frame), meta.to_headers())
            windows.append(
                window_queries.insert_window(
                    session,
                    camera_id=camera.id,
                    topic="t",
                    topic_id="tid",
                    partition=0,
                    first_offset=first,
                    last_offset=first + PER_WINDOW - 1,
                    context_offset=None,
                    n_frames=PER_WINDOW,
                    start_at=T0 + first / FPS,
                    end_at=T0 + (first + PER_WINDOW - 1) / FPS,
                )  # fmt: skip
            )
        incident = Incident(
            camera_id=camera.id, status="open", started_at=clock.utc(T0), threshold=0.5,
            peak_score=0.7, peak_at=clock.utc(T0), first_window_seq=0, last_window_seq=0,
        )  # fmt: skip
        session.add(incident)
        session.flush()
        ids = (camera.id, incident.id, [w.id for w in windows])
    capture.release()
    return log, ids


def request_all(pipeline, incident_id: int, n: int, cap: int = 10) -> list[int | None]:
    out = []
    with transaction(pipeline.sessions) as session:
        incident = session.get(Incident, incident_id)
        for seq in range(n):
            incident.last_window_seq = seq
            out.append(s2.request_analysis(session, incident, "incident.updated", cap))
    return out


def runner_for(pipeline, server, log, burst: int = 10) -> Stage2Runner:
    settings = Settings(
        _env_file=None,
        stage2={"captioner_url": server.url, "llm_url": server.url, "frames_per_window": 3},
    )
    bucket = TokenBucket(60, burst)
    return Stage2Runner(settings, pipeline.sessions, log, build_chain(settings), bucket)


def analyses(pipeline) -> list[s2.Stage2Analysis]:
    with pipeline.sessions() as session:
        return list(
            session.scalars(
                s2.select(s2.Stage2Analysis).order_by(s2.Stage2Analysis.window_start_at)
            )
        )


NORMAL_RATINGS = [0.0, 0.1, 0.0, 0.2, 0.1, 0.0, 0.1, 0.3, 0.0, 0.1]  # low and spread


def calibrate(pipeline, camera_id: int, folder, model: str) -> None:
    """A learned camera whose model folder holds `model`'s ratings of normal footage."""
    folder.mkdir()
    save_ratings(folder, model, NORMAL_RATINGS)
    with transaction(pipeline.sessions) as session:
        model_registry.register_model(session, camera_id, 1, str(folder), 100, "test", {})


def test_gaps_are_filled_from_neighbours_refined_and_fused(pipeline, setup, tmp_path):
    log, (camera_id, incident_id, window_ids) = setup
    ids = request_all(pipeline, incident_id, 4)
    assert None not in ids
    assert request_all(pipeline, incident_id, 1) == [None]  # one analysis per window
    with ChatServer(ScriptedModels(["0.2", "probably fine", "0.8", ""])) as server:
        runner = runner_for(pipeline, server, log)
        calibrate(pipeline, camera_id, tmp_path / "model", runner.chain.llm.name)
        assert [runner.run(i) for i in ids] == ["done"] * 4
    rows = analyses(pipeline)
    assert [a.llm_score for a in rows] == [0.2, None, 0.8, None]
    assert rows[1].answer_error.startswith("not a single number") and rows[3].answer_error
    assert [a.score_source for a in rows] == ["llm", "interpolated", "llm", "interpolated"]
    assert rows[1].score == pytest.approx(0.5)  # halfway in time between 0.2 and 0.8
    assert rows[3].score == pytest.approx(0.8)  # after the last parsed one: its value
    # identical summaries: the third is refined with the first (similarity 1)
    assert rows[2].refined_from and rows[2].refined_from[0]["id"] == rows[0].id
    assert rows[2].refined_score == pytest.approx((0.8 + 0.2) / 2, abs=1e-3)
    first = rows[0]
    assert len(first.frame_offsets) == 3 and first.captions_clean == first.captions_raw
    assert first.cleaning.startswith("skipped: no CLIP")
    assert first.context == "Walkway: pedestrians only." and first.prompt_version
    with pipeline.sessions() as session:
        incident = session.get(Incident, incident_id)
    best = max(a.refined_score for a in rows)
    weight = fit_weight(rows[0].llm, NORMAL_RATINGS, 0.5)  # calibrated: 0.5 above its p95
    assert weight.weight == 0.5 and best > weight.normal_p95
    assert incident.fused_score == pytest.approx(0.7 + 0.5 * (best - weight.normal_p95))
    assert incident.fused_score == pytest.approx(fuse(0.7, best, weight))
    assert incident.explanation == "A cart on a pedestrian walkway is unusual."
    detail = api_get(pipeline, f"/incidents/{incident_id}")
    assert detail["fused_score"] == pytest.approx(incident.fused_score)
    assert detail["explanation"] == incident.explanation
    assert [a["score_source"] for a in detail["stage2"]] == [a.score_source for a in rows]
    assert detail["stage2_weight"]["weight"] == 0.5
    assert not detail["stage2_weight"]["explanations_only"]
    said = api_get(pipeline, "/system/stages", "viewer2")["stage2_weights"]
    assert [(w["camera"], w["model"], w["weight"]) for w in said] == [("walkway", rows[0].llm, 0.5)]
    assert detail["stage2"][1]["answer"] == "probably fine"
    assert len(detail["stage2"][0]["frame_times"]) == 3


def test_explanations_only_asks_no_rating_and_explains_from_the_peak_window(
    pipeline, setup, tmp_path
):
    """An uncalibrated LLM has weight 0: its rating would change no score, so the worker does not
    ask for it; the incident still gets the summary and the explanation of the window where
    stage 1 peaked highest, and its fused score is the stage-1 peak. Unrated windows neither
    take nor give interpolated ratings once the model is calibrated."""
    log, (camera_id, incident_id, window_ids) = setup
    ids = []
    for seq, peak in enumerate((0.7, 0.9, 0.8)):  # the stage-1 peak when each was requested
        with transaction(pipeline.sessions) as session:
            incident = session.get(Incident, incident_id)
            incident.peak_score, incident.last_window_seq = peak, seq
            ids.append(s2.request_analysis(session, incident, "incident.updated", 10))
    said = iter(range(1, 10))

    def models(body: dict) -> tuple[int, str]:
        if "Explanation:" in prompt_text(body):
            return 200, f"Explanation {next(said)}."
        return ScriptedModels(["0.8"])(body)

    with ChatServer(models) as server:
        runner = runner_for(pipeline, server, log)
        assert [runner.run(i) for i in ids[:2]] == ["done"] * 2
        asked = [prompt_text(r["body"]) for r in server.requests]
        assert not [t for t in asked if "Answer:" in t]  # no rating call
        rows = analyses(pipeline)[:2]
        assert [(a.score_source, a.answer, a.llm_score, a.answer_error) for a in rows] == [
            ("not rated", None, None, None)
        ] * 2
        assert all(a.summary and "score" not in a.stage_seconds for a in rows)
        with pipeline.sessions() as session:
            incident = session.get(Incident, incident_id)
            assert incident.explanation == "Explanation 2."  # the window that peaked at 0.9
            assert incident.fused_score == pytest.approx(incident.peak_score)
        calibrate(pipeline, camera_id, tmp_path / "model", runner.chain.llm.name)
        runner = runner_for(pipeline, server, log)  # a worker re-reads calibrations every 10 s
        assert runner.run(ids[2]) == "done"
    rows = analyses(pipeline)
    assert [a.score_source for a in rows] == ["not rated", "not rated", "llm"]
    assert [a.score for a in rows] == [None, None, 0.8]  # not interpolated from the rated one
    with pipeline.sessions() as session:
        incident = session.get(Incident, incident_id)
    weight = fit_weight(rows[2].llm, NORMAL_RATINGS, 0.5)
    assert incident.explanation == "Explanation 3."  # the rated window now explains
    assert incident.fused_score == pytest.approx(fuse(incident.peak_score, 0.8, weight))


def api_get(pipeline, path: str, token_name: str = "viewer") -> dict:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.tokens import create_token

    with transaction(pipeline.sessions) as session:
        token = create_token(session, token_name, "read")
    client = TestClient(create_app(pipeline.settings, pipeline.sessions))
    reply = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_budget_drops_and_counts_and_cap_skips(pipeline, setup):
    log, (camera_id, incident_id, window_ids) = setup
    ids = request_all(pipeline, incident_id, 3, cap=2)
    assert ids[2] is None  # over the incident's cap: recorded, not sent
    with ChatServer(ScriptedModels(["0.4"])) as server:
        runner = runner_for(pipeline, server, log, burst=1)
        assert runner.run(ids[0]) == "done"
        assert runner.run(ids[1]) == "budget"
        assert runner.run(ids[1]) == "finished or busy"  # a redelivered message does nothing
    assert (runner.bucket.allowed, runner.bucket.dropped) == (1, 1)
    rows = analyses(pipeline)
    assert [(a.status, (a.reason or "").split(":")[0]) for a in rows] == [
        ("done", ""), ("skipped", "budget"), ("skipped", "incident cap")
    ]  # fmt: skip
    with pipeline.sessions() as session:
        snapshot = metrics_queries.metrics_snapshot(session)
        stale = s2.stale(session, clock.now_utc() + timedelta(seconds=1))
    text = metrics.render(snapshot, pipeline.settings)
    assert 'vad_stage2_skipped_total{reason="budget"} 1' in text
    assert 'vad_stage2_skipped_total{reason="incident cap"} 1' in text
    assert 'vad_stage2_analyses{status="done"} 1' in text
    assert "vad_stage2_queue_depth 0" in text
    assert stale == []  # nothing left open


def test_sweeper_resends_lost_requests_and_skips_stale_ones(pipeline, setup):
    from sqlalchemy import update

    from workers.celery_app import make_celery
    from workers.stage2 import sweep

    log, (camera_id, incident_id, window_ids) = setup
    lost, old = request_all(pipeline, incident_id, 2)
    now = clock.now_utc()
    with transaction(pipeline.sessions) as session:
        for analysis_id, age in ((lost, 200), (old, 4000)):
            session.execute(
                update(s2.Stage2Analysis)
                .where(s2.Stage2Analysis.id == analysis_id)
                .values(requested_at=now - timedelta(seconds=age))
            )
    sent: list[int] = []
    app = make_celery(pipeline.settings, pipeline.endpoints)
    assert sweep(pipeline.sessions, app, sent.extend, pipeline.settings.stage2) == 1
    assert sent == [lost]  # message lost 200 s ago: sent again (queue empty)
    rows = {a.id: a for a in analyses(pipeline)}
    assert rows[lost].status == "pending"
    assert rows[old].status == "skipped" and rows[old].reason.startswith("stale")


def test_a_running_analysis_is_leased(pipeline, setup):
    log, (camera_id, incident_id, window_ids) = setup
    (analysis_id,) = request_all(pipeline, incident_id, 1)
    with transaction(pipeline.sessions) as session:
        assert s2.claim(session, analysis_id, lease_seconds=60).attempts == 1
    with transaction(pipeline.sessions) as session:  # a duplicate message while it runs
        assert s2.claim(session, analysis_id, lease_seconds=60) is None
    with transaction(pipeline.sessions) as session:  # its worker died long ago
        assert s2.claim(session, analysis_id, lease_seconds=0).attempts == 2
