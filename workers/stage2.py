"""The stage-2 worker: run the LAVAD chain on a requested window and store it with the incident.

Runs in its own processes on the `stage2` Celery queue (`vad stage2-worker`), so a slow captioner
or LLM never delays stage 1. Each worker admits at most `max_calls_per_minute` analyses (token
bucket); over budget, stale or over an incident's cap, a request is recorded as skipped with the
reason, which is what the metrics count.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import numpy as np
from celery import Celery, Task
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db import clock, search, window_queries
from db import stage2 as s2
from db.models import Camera, Incident, Window
from db.session import transaction
from frames.reader import FrameReader, WindowUnavailable
from frames.window import read_window_frames
from vad.settings import CoreSettings
from vad.stage2.answers import interpolate
from vad.stage2.budget import TokenBucket
from vad.stage2.chain import ChainResult, Stage2Chain, WindowInput, choose_frames
from vad.stage2.config import Stage2Config
from vad.stage2.prompts import PROMPT_VERSION
from vad.stage2.scene import SceneNorms, describe_window
from vad.stage2.similarity import refine
from vad.stage2.weight import FusionWeight, fit_weight, fuse, read_ratings
from webhooks.delivery import Sender, enqueue_incident_event, send_deliveries
from workers.celery_app import ANALYZE_WINDOW, STAGE2_QUEUE, queue_length
from workers.retries import retry_or_give_up
from workers.scorers import LatestModelCache, RegionCache
from workers.stage2_gate import Stage2Sender

log = logging.getLogger(__name__)

SERIES_LIMIT = 200  # analyses of a camera looked at when filling gaps


@dataclass(frozen=True)
class Picked:
    """The frames chosen for stage 2 and where they are."""

    offsets: list[int]
    indices: list[int]
    times: list[float]
    images: list[np.ndarray]
    # every decoded frame of the window, for scene descriptions (tracks need them all)
    all_times: list[float] = field(default_factory=list)
    all_images: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class Job:
    analysis_id: int
    window: Window
    context: str | None
    neighbours: list[str]


ANALYZED = "incident.analyzed"  # webhook event: stage 2 changed an incident's verdict


class SceneDescriber:
    """The captions when no captioner is installed: the detector on the window's frames (a
    `KeyFrameDetector`: key frames, as `vad camera learn` fitted the norms), its tracks described
    against the camera's normal footage (`scene.json` in the camera's latest model folder;
    without it speeds are absolute). Objects inside the camera's mask are not described (the
    detector runs blind to it, as the worker's)."""

    def __init__(self, detector, sessions: sessionmaker[Session]) -> None:
        self.detector = detector
        self.norms = LatestModelCache(sessions, SceneNorms.load)
        self.regions = RegionCache(sessions)

    def describe(
        self, camera_id: int, times: list[float], images: list[np.ndarray]
    ) -> list[tuple[float, str]]:
        drawn, _ = self.regions.for_camera(camera_id)
        found = drawn.mask.hide_from(self.detector).detect(images) if images else []
        return describe_window(found, times, self.norms.for_camera(camera_id))


class Stage2Runner:
    """Everything a stage-2 worker process needs; the chain (models) is built once."""

    def __init__(
        self,
        settings: CoreSettings,
        sessions: sessionmaker[Session],
        reader: FrameReader,
        chain: Stage2Chain,
        bucket: TokenBucket | None = None,
        send_delivery: Sender | None = None,
        scene: SceneDescriber | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.stage2
        self.sessions = sessions
        self.reader = reader
        self.chain = chain
        self.send_delivery = send_delivery
        self.scene = scene
        self.bucket = bucket or TokenBucket(self.config.max_calls_per_minute, self.config.burst)
        self.calibrations = LatestModelCache(sessions, read_ratings)

    def fusion_weight(self, camera_id: int) -> FusionWeight:
        """The chain's LLM's weight on this camera, from its ratings of the camera's normal
        footage (`vad stage2 calibrate`); 0 = explanations only, also when not calibrated."""
        name = self.chain.llm.name
        ratings = self.calibrations.for_camera(camera_id).get(name, [])
        return fit_weight(name, ratings, self.config.fusion_weight)

    def run(self, analysis_id: int) -> str:
        job, outcome = self._admit(analysis_id)
        if job is None:
            return outcome
        picked = self._pick(job.window)
        if not picked.images:
            self._finish(analysis_id, "skipped", "no frames: none of the window could be decoded")
            return "skipped"
        scene = None
        if self.scene is not None:
            scene = self.scene.describe(job.window.camera_id, picked.all_times, picked.all_images)
        weight = self.fusion_weight(job.window.camera_id)
        result = self.chain.run(
            WindowInput(picked.images, picked.times, job.context, job.neighbours, scene),
            rate=not weight.explanations_only,  # weight 0: the rating would change nothing
        )
        deliveries: list[int] = []
        with transaction(self.sessions) as session:

            def on_fused(incident: Incident) -> None:
                key = f"a{analysis_id}"
                deliveries.extend(enqueue_incident_event(session, ANALYZED, incident, key))

            stored = store_result(
                session, job, picked, result, self.chain, self.config, weight, on_fused
            )
        if deliveries and self.send_delivery is not None:
            send_deliveries(self.send_delivery, deliveries)  # a lost nudge is swept up
        return "done" if stored else "duplicate"

    def _admit(self, analysis_id: int) -> tuple[Job | None, str]:
        """Claim the request, or record why it is not run (stale, attempts, budget)."""
        cfg = self.config
        with transaction(self.sessions) as session:
            row = s2.claim(session, analysis_id, lease_seconds=cfg.requeue_after_seconds)
            if row is None:
                return None, "finished or busy"
            refused = self._refusal(row)
            if refused is not None:
                status, reason = refused
                s2.finish(session, analysis_id, status, reason)
                return None, reason.split(":", 1)[0] if status == "skipped" else status
            window = session.get(Window, row.window_id)
            camera = session.get(Camera, row.camera_id)
            neighbours = s2.neighbour_captions(
                session, row.camera_id, row.window_start_at, cfg.neighbour_windows
            )
            return Job(analysis_id, window, camera.context if camera else None, neighbours), ""

    def _refusal(self, row: s2.Stage2Analysis) -> tuple[str, str] | None:
        """(status, reason) when this claimed request must not run; None to run it. The budget
        is charged on the first attempt only (retries of an admitted analysis are not)."""
        cfg = self.config
        age = (clock.now_utc() - row.requested_at).total_seconds()
        if age > cfg.max_age_seconds:
            return "skipped", f"stale: requested {age:.0f} s ago (max {cfg.max_age_seconds:g} s)"
        if row.attempts > cfg.max_attempts:
            return "failed", f"gave up after {row.attempts - 1} attempts: {row.reason}"
        if row.attempts == 1 and not self.bucket.try_acquire():
            return "skipped", f"budget: over {cfg.max_calls_per_minute:g} analyses/min per worker"
        return None

    def _pick(self, window: Window) -> Picked:
        """Read the window back from Kafka and choose frames by the density-aware sampler over
        its stage-1 scores."""
        logged = read_window_frames(
            self.reader,
            window.topic,
            window.partition,
            window.first_offset,
            window.last_offset,
            window.camera_id,
        )
        frames = [f.frame for f in logged if f.frame.ok]
        with self.sessions() as session:
            scores = {
                s.kafka_offset: s.score for s in window_queries.window_scores(session, window.id)
            }
        stage1 = [_nan(scores.get(frame.offset)) for frame in frames]
        chosen = [frames[i] for i in choose_frames(stage1, self.config)]
        return Picked(
            offsets=[f.offset for f in chosen],
            indices=[f.index for f in chosen],
            times=[f.captured_at for f in chosen],
            images=[f.image for f in chosen],
            all_times=[f.captured_at for f in frames],
            all_images=[f.image for f in frames],
        )

    def _finish(self, analysis_id: int, status: str, reason: str) -> None:
        with transaction(self.sessions) as session:
            s2.finish(session, analysis_id, status, reason)

    def note_error(self, analysis_id: int, error: str) -> None:
        with transaction(self.sessions) as session:
            row = session.get(s2.Stage2Analysis, analysis_id, with_for_update=True)
            if row is not None and row.status in s2.OPEN_STATES:
                row.reason = error[:2000]

    def fail(self, analysis_id: int, error: str) -> None:
        self._finish(analysis_id, "failed", error)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def store_result(
    session: Session,
    job: Job,
    picked: Picked,
    result: ChainResult,
    chain: Stage2Chain,
    config: Stage2Config,
    weight: FusionWeight,
    on_fused: Callable[[Incident], None] | None = None,
) -> bool:
    """Write the analysis, fill rating gaps of the camera, refine, fuse into the incident;
    `on_fused` hears of each incident whose fused score or explanation changed (webhooks)."""
    row = session.get(s2.Stage2Analysis, job.analysis_id, with_for_update=True)
    if row is None or row.status not in s2.OPEN_STATES:
        return False
    models = chain.models()
    row.frame_offsets, row.frame_indices = picked.offsets, picked.indices
    row.frame_times = [round(t, 3) for t in picked.times]
    row.captions_raw, row.captions_clean = result.captions_raw, result.captions_clean
    row.cleaning, row.summary = result.cleaning, result.summary
    row.answer, row.answer_error, row.llm_score = result.answer, result.score_error, result.score
    row.score_source = None if result.rated else s2.NOT_RATED
    row.explanation = result.explanation
    row.embedding, row.embedding_kind = result.embedding, result.embedding_kind
    row.captioner, row.llm, row.encoder = models["captioner"], models["llm"], models["encoder"]
    row.prompt_version, row.context = PROMPT_VERSION, job.context  # the context actually used
    row.seconds, row.stage_seconds = round(result.seconds, 4), result.stage_seconds
    row.status, row.reason, row.finished_at = "done", None, clock.now_utc()
    session.flush()
    touched = fill_gaps(session, row.camera_id)
    if row.score_source == "llm":
        past = s2.past_summaries(session, row, row.embedding_kind, config.refine_history)
        refined = refine(row.score, row.embedding, past, config.refine_neighbours)
        row.refined_score, row.refined_from = refined.score, refined.neighbours
    for incident_id in sorted({row.incident_id, *touched} - {None}):
        changed = fuse_incident(session, incident_id, weight)
        if changed is not None and on_fused is not None:
            on_fused(changed)
    return True


def fill_gaps(session: Session, camera_id: int) -> set[int | None]:
    """Ratings that did not parse take the interpolation of their parsed neighbours in time
    (recomputed as neighbours arrive, not refined further); parsed ones keep the LLM's value;
    windows not rated at all (explanations only) neither give nor take. Returns the incidents
    whose filled scores changed."""
    series = s2.scored_series(session, camera_id, SERIES_LIMIT)
    times = [a.window_start_at.timestamp() for a in series]
    filled = interpolate(times, [a.llm_score for a in series])
    touched: set[int | None] = set()
    for analysis, value in zip(series, filled, strict=True):
        if analysis.llm_score is not None:
            analysis.score, analysis.score_source = analysis.llm_score, "llm"
        elif value is not None and analysis.score != value:
            analysis.score, analysis.score_source = float(value), "interpolated"
            analysis.refined_score, analysis.refined_from = float(value), []
            touched.add(analysis.incident_id)
    session.flush()
    return touched


def fuse_incident(session: Session, incident_id: int, weight: FusionWeight) -> Incident | None:
    """Fused score = the stage-1 peak raised by the highest refined stage-2 score among the
    incident's analysed windows where it exceeds the model's normal ratings (`vad.stage2.weight`;
    weight 0 or no rating = the stage-1 peak); the explanation is that window's, or, with no
    rating, the one of the analysed window where stage 1 peaked highest (the key frame's).
    Returns the incident when its fused score or explanation changed.

    The incident row is locked: the tracker moves the fused score with the stage-1 peak
    (`vad.stage2.weight.follow_peak`) in its own transaction, and neither may overwrite the
    other with a value computed from a peak it read before the other committed."""
    incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
    analysed = s2.incident_analyses(session, incident_id)
    if incident is None or not analysed:
        return None
    best = max(analysed, key=_explains_best)
    before = (incident.fused_score, incident.explanation)
    incident.fused_score = fuse(incident.peak_score, best.refined_score, weight)
    incident.explanation = best.explanation
    for analysis in analysed:
        analysis.fused_score = fuse(analysis.stage1_peak or 0.0, analysis.refined_score, weight)
    index_incident_text(session, incident, best.summary, _captions(analysed))
    return incident if (incident.fused_score, incident.explanation) != before else None


def _explains_best(analysis: s2.Stage2Analysis) -> tuple[float, float, float]:
    """The window whose explanation the incident shows: the highest refined rating, then the
    highest stage-1 peak (unrated windows), then the latest."""
    rated = analysis.refined_score if analysis.refined_score is not None else -math.inf
    return (rated, analysis.stage1_peak or 0.0, analysis.window_start_at.timestamp())


def _captions(analyses: list[s2.Stage2Analysis]) -> str:
    """Every distinct cleaned caption of the incident's analysed windows, in order, so search
    finds an incident by what any of its frames showed, not only by the summary."""
    seen: dict[str, None] = {}
    for analysis in sorted(analyses, key=lambda a: a.window_start_at):
        for caption in analysis.captions_clean or analysis.captions_raw or []:
            if caption and caption.strip():
                seen.setdefault(caption.strip(), None)
    return " ".join(f"{c.rstrip('.')}." for c in seen)


def index_incident_text(
    session: Session, incident: Incident, summary: str | None, captions: str
) -> None:
    """The one hook into incident search (issue 8): the incident's explanation, the summary
    behind it and its captions. A search index that is broken must not lose the analysis, so it
    runs in a savepoint and only logs on failure."""
    try:
        texts = {"explanation": incident.explanation, "summary": summary, "caption": captions}
        with session.begin_nested():
            for source, body in texts.items():
                search.index_incident_text(session, incident.id, source, body or "")
    except SQLAlchemyError as error:
        log.warning("incident %s not indexed for search: %s", incident.id, error)


# --- Celery wiring ------------------------------------------------------------------------------


def register_stage2_tasks(app: Celery, runner: Stage2Runner) -> None:
    max_attempts = runner.config.max_attempts

    @app.task(name=ANALYZE_WINDOW, bind=True, max_retries=max_attempts - 1, shared=False)
    def analyze_window(self: Task, analysis_id: int) -> str:
        try:
            return runner.run(analysis_id)
        except WindowUnavailable as lost:
            runner.fail(analysis_id, str(lost))
            return "failed"
        except Exception as error:
            fail, note = partial(runner.fail, analysis_id), partial(runner.note_error, analysis_id)
            return retry_or_give_up(self, error, f"stage-2 analysis {analysis_id}", fail, note)


def sweep(
    sessions: sessionmaker[Session], app: Celery, send: Stage2Sender, config: Stage2Config
) -> int:
    """Requests older than max_age are skipped as stale; open ones older than requeue_after are
    sent again when the queue is empty (their message was lost or their worker died)."""
    now = clock.now_utc()
    with transaction(sessions) as session:
        for analysis_id in s2.stale(session, now - timedelta(seconds=config.max_age_seconds)):
            s2.finish(session, analysis_id, "skipped", "stale: never analysed in time")
    if queue_length(app, STAGE2_QUEUE) > 0:
        return 0
    with transaction(sessions) as session:
        ids = s2.stale(session, now - timedelta(seconds=config.requeue_after_seconds))
        s2.mark_resent(session, ids)
    if ids:
        log.info("re-sending %s stage-2 request(s)", len(ids))
        send(ids)
    return len(ids)


def start_sweeper(
    sessions: sessionmaker[Session],
    app: Celery,
    send: Stage2Sender,
    config: Stage2Config,
    stop: threading.Event,
) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(max(config.requeue_after_seconds / 2, 1.0)):
            try:
                sweep(sessions, app, send, config)
            except Exception as error:  # noqa: BLE001 - keep sweeping after a DB/broker outage
                log.warning("stage-2 sweep failed: %s", error)

    thread = threading.Thread(target=loop, name="stage2-sweeper", daemon=True)
    thread.start()
    return thread
