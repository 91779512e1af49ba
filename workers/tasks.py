"""The stage-1 window task: read a window back from Kafka, score it, write it exactly once."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np
from celery import Celery, Task
from sqlalchemy.orm import Session, sessionmaker

from db import clock, regions, scorer_state_queries, window_queries
from db.models import Camera, Incident, Window
from db.session import transaction
from frames.reader import FrameReader, WindowUnavailable
from frames.window import read_window_frames, window_frames
from vad.masks import RegionMask, ZoneLocator, mask_window
from vad.scoring.base import Scorer
from vad.scoring.look_ahead import look_ahead
from vad.types import Frame, ScoreResult
from webhooks.delivery import Sender, enqueue_incident_event, send_deliveries
from workers.celery_app import SCORE_WINDOW, STAGE1_QUEUE
from workers.encoding import EncodedWindow, FrameEncoding
from workers.retries import retry_or_give_up
from workers.scorers import RegionCache, ScorerCache
from workers.settings import WorkerSettings
from workers.stage2_gate import Stage2Sender, stage2_gate
from workers.tracker import KeyFrameWanted, advance_tracker, store_key_frames

log = logging.getLogger(__name__)


def use_opencv_threads(threads: int) -> None:
    """Give this worker process `threads` OpenCV threads (0: leave OpenCV's default, one per
    core). Why: `vad up` and Compose run one solo worker process per core, and each one's OpenCV
    otherwise spreads every flow and resize over all cores, fighting the others; one thread each
    scored the same bits with about 10 % less CPU a frame (speed round 3)."""
    if threads > 0:
        cv2.setNumThreads(threads)


@dataclass(frozen=True, slots=True)
class WindowTask:
    """The claim check a task carries: pointers into Kafka, never pixels."""

    window_id: int
    topic: str
    partition: int
    first_offset: int
    last_offset: int

    def args(self) -> list:
        return [self.window_id, self.topic, self.partition, self.first_offset, self.last_offset]

    @classmethod
    def of(cls, window: Window) -> WindowTask:
        return cls(
            window.id, window.topic, window.partition, window.first_offset, window.last_offset
        )


def enqueue(app: Celery, task: WindowTask) -> None:
    app.send_task(SCORE_WINDOW, args=task.args(), queue=STAGE1_QUEUE)


class WindowScorer:
    """Everything a worker process needs to score windows; built once per process."""

    def __init__(
        self,
        settings: WorkerSettings,
        sessions: sessionmaker[Session],
        reader: FrameReader,
        send_delivery: Sender | None = None,
        send_stage2: Stage2Sender | None = None,
    ):
        self.settings = settings
        self.sessions = sessions
        self.reader = reader
        self.scorers = ScorerCache(settings, sessions)
        self.regions = RegionCache(sessions)
        self.encoding = FrameEncoding(settings, sessions)
        self.send_delivery = send_delivery
        self.stage2 = stage2_gate(settings)
        self.send_stage2 = send_stage2

    def run(self, task: WindowTask) -> str:
        with transaction(self.sessions) as session:
            window = window_queries.start_window(session, task.window_id)
            if window is None:
                return "skipped"
            camera = session.get(Camera, window.camera_id)
            threshold = _threshold(camera, self.settings)
        if window.attempts > self.settings.windows.max_attempts:
            self._fail(window, f"gave up after {window.attempts - 1} attempts: {window.error}")
            return "failed"
        try:
            frames, context, ahead, ingested = self._read(window)
        except WindowUnavailable as lost:
            self._fail(window, str(lost))
            return "failed"
        scorer = self.scorers.for_camera(window.camera_id)
        drawn, locator = self.regions.for_camera(window.camera_id)
        sequence, context = mask_window(frames + ahead, context, drawn.mask)
        frames, ahead = sequence[: len(frames)], sequence[len(frames) :]
        with self.sessions() as session:
            state = scorer_state_queries.load_scorer_state(session, window.camera_id, scorer.name)
        result, encoded = self._score(window, scorer, (frames, context, ahead), state, drawn.mask)
        zones = _frame_zones(locator, frames, context, encoded.detections)
        if self.settings.faults.score_delay_seconds:
            time.sleep(self.settings.faults.score_delay_seconds)
        rows = [
            _row(frame, float(score), float(raw), ingested[frame.offset], fired, zone)
            for frame, score, raw, fired, zone in zip(
                frames, encoded.scores, result.raw, encoded.fired, zones, strict=True
            )
        ]
        with transaction(self.sessions) as session:
            wrote = window_queries.finish_window(
                session, window.id, rows, scorer.name, result.state
            )
            if wrote:
                self.encoding.store(session, window, encoded)
        self.track(window.camera_id, threshold)
        return "scored" if wrote else "duplicate"

    def track(self, camera_id: int, threshold: float) -> int:
        """Advance the camera's incidents; webhook deliveries and stage-2 requests are written in
        the same transaction and their tasks sent only after it commits (a lost send is swept
        up). Key frames of new peaks are read from Kafka after the commit too, so the tracker
        row is never locked while the log is read."""
        created: list[int] = []
        analyses: list[int] = []
        with transaction(self.sessions) as session:

            def on_event(kind: str, incident: Incident) -> None:
                self.encoding.annotate(session, incident)
                incident.zones = regions.incident_zones(session, incident)
                created.extend(enqueue_incident_event(session, kind, incident))
                if self.stage2 is not None:
                    analyses.extend(self.stage2.request(session, kind, incident))

            advanced = advance_tracker(
                session, camera_id, threshold, self.settings.incidents, on_event
            )
        if advanced.key_frames:
            store_key_frames(self.sessions, advanced.key_frames, self._key_frame)
        if created and self.send_delivery is not None:
            send_deliveries(self.send_delivery, created)
        if analyses and self.send_stage2 is not None:
            self.send_stage2(analyses)
        return advanced.consumed

    def fail(self, window_id: int, error: str) -> None:
        with transaction(self.sessions) as session:
            window = session.get(Window, window_id)
            window_queries.fail_window(session, window_id, error)
            camera = session.get(Camera, window.camera_id) if window else None
        if camera is not None:
            self.track(camera.id, _threshold(camera, self.settings))

    def _fail(self, window: Window, error: str) -> None:
        log.error("window %s failed: %s", window.id, error)
        self.fail(window.id, error)

    def _score(
        self,
        window: Window,
        scorer: Scorer,
        read: tuple[list[Frame], list[Frame], list[Frame]],
        state: dict | None,
        mask: RegionMask,
    ) -> tuple[ScoreResult, EncodedWindow]:
        """Stage 1 and the encoders over the window and its look-ahead frames, fused, each
        frame's fused score averaged with the next `scoring.look_ahead_seconds`
        (`vad.scoring.look_ahead`, as `vad eval`); what is returned is the window's own frames'."""
        frames, context, ahead = read
        result, joint = _stage1(scorer, frames, context, ahead, state)
        encoded = self.encoding.encode(
            window.camera_id,
            frames + ahead,
            joint.scores,
            _fired(scorer, joint, frames + ahead),
            mask=mask,
        )
        final = look_ahead(
            encoded.scores,
            [f.captured_at for f in frames + ahead],
            self.settings.scoring.look_ahead_seconds,
        )
        encoded = encoded.head(len(frames), window.last_offset)
        encoded.scores = final[: len(frames)]
        return result, encoded

    def _read(
        self, window: Window
    ) -> tuple[list[Frame], list[Frame], list[Frame], dict[int, float]]:
        """The window's frames, its look-back context, its look-ahead frames (up to
        `ahead_offset`, stopped where the camera's clock steps back) and ingest times."""
        first = window.context_offset if window.context_offset is not None else window.first_offset
        last = window.ahead_offset if window.ahead_offset is not None else window.last_offset
        logged = list(
            read_window_frames(
                self.reader, window.topic, window.partition, first, last, window.camera_id
            )
        )
        own = [f for f in logged if f.frame.offset <= window.last_offset]
        frames, context, ingested = window_frames(window, own, self.settings.windows.context_frames)
        ahead = _until_clock_steps_back(
            [f.frame for f in logged if f.frame.offset > window.last_offset],
            frames[-1].captured_at if frames else None,
        )
        return frames, context, ahead, ingested

    def _key_frame(self, wanted: KeyFrameWanted) -> bytes | None:
        """The JPEG of an incident's peak frame; None when it cannot be read or decoded."""
        if wanted.offset < 0:
            return None
        try:
            logged = list(
                read_window_frames(
                    self.reader,
                    wanted.topic,
                    wanted.partition,
                    wanted.offset,
                    wanted.offset,
                    wanted.camera_id,
                )
            )
            return next((f.jpeg for f in logged if f.frame.ok), None)
        except Exception as error:  # noqa: BLE001 - an incident without a picture beats none
            log.warning("key frame at offset %s unavailable: %s", wanted.offset, error)
            return None


def _stage1(
    scorer: Scorer,
    frames: list[Frame],
    context: list[Frame],
    ahead: list[Frame],
    state: dict | None,
) -> tuple[ScoreResult, ScoreResult]:
    """The window's own stage-1 result, and the scores of the window and its look-ahead frames
    (those as the next window will score them: after this one, which is their look-back). One
    pass when the scorer keeps no state (scores are causal, so the window's part is its own);
    a scorer with state is run on the window alone too, so the look-ahead frames do not advance
    its state before their own window does."""
    joint = scorer.score(frames + ahead, context, state)
    if not ahead:
        return joint, joint
    if joint.state is not None:
        return scorer.score(frames, context, state), joint
    n = len(frames)
    own = ScoreResult(
        joint.scores[:n], joint.raw[:n], None, {"fired": _fired(scorer, joint, frames + ahead)[:n]}
    )
    return own, joint


def _fired(scorer: Scorer, result: ScoreResult, frames: list[Frame]) -> list[str | None]:
    return result.notes.get("fired") or [scorer.name] * len(frames)


def _until_clock_steps_back(frames: list[Frame], since: float | None) -> list[Frame]:
    """The leading frames whose capture times do not go back (look-ahead is forward in time)."""
    kept: list[Frame] = []
    for frame in frames:
        if since is not None and frame.captured_at < since:
            break
        kept.append(frame)
        since = frame.captured_at
    return kept


def _threshold(camera: Camera | None, settings: WorkerSettings) -> float:
    if camera is not None and camera.threshold is not None:
        return camera.threshold
    return settings.incidents.default_threshold


def _frame_zones(
    locator: ZoneLocator, frames: list[Frame], context: list[Frame], detections: list[dict]
) -> list[list[str] | None]:
    """Per frame, the zones it touched (motion or an object's foot point); None for all when
    the camera has no zones."""
    if not locator.zones:
        return [None] * len(frames)
    boxes: dict[int, list] = {}
    for row in detections:
        boxes[row["kafka_offset"]] = [d["box"] for d in row["objects"]]
    previous = next((f.image for f in reversed(context) if f.image is not None), None)
    return locator.per_frame(
        [f.image for f in frames], previous, [boxes.get(f.offset, []) for f in frames]
    )


def _row(
    frame: Frame,
    score: float,
    raw: float,
    ingested: float,
    fired: str | None,
    zones: list[str] | None = None,
) -> dict:
    return {
        "fired": None if math.isnan(score) else fired,
        "kafka_offset": frame.offset,
        "frame_index": frame.index,
        "captured_at": clock.utc(frame.captured_at),
        "ingested_at": clock.utc(ingested),
        "score": None if math.isnan(score) else score,
        "raw": None if math.isnan(raw) or np.isinf(raw) else raw,
        "error": frame.error,
        "zones": zones,
    }


def register_tasks(app: Celery, scorer: WindowScorer) -> None:
    """The window task on `app` only (`shared=False`): Celery otherwise offers every task to
    each app made later in the process, in set order, so a second app (a test, a restart in
    process) could run the first app's scorer with its database and reader."""
    max_attempts = scorer.settings.windows.max_attempts

    @app.task(name=SCORE_WINDOW, bind=True, max_retries=max_attempts - 1, shared=False)
    def score_window(self: Task, window_id: int, topic: str, partition: int, first: int, last: int):
        task = WindowTask(window_id, topic, partition, first, last)
        try:
            return scorer.run(task)
        except Exception as error:
            give_up = partial(scorer.fail, window_id)
            return retry_or_give_up(self, error, f"window {window_id}", give_up)
