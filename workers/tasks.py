"""The stage-1 window task: read a window back from Kafka, score it, write it exactly once."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
from celery import Celery, Task
from sqlalchemy.orm import Session, sessionmaker

from db import queries, regions
from db.models import Camera, Incident, Window
from db.session import transaction
from vad.codec import FrameMeta, decode_jpeg, frame_from_record, is_end_of_stream
from vad.config import Settings
from vad.masks import ZoneLocator, mask_window
from vad.types import Frame
from workers.celery_app import SCORE_WINDOW, STAGE1_QUEUE
from workers.encoding import FrameEncoding
from workers.kafka_log import FrameReader, LogRecord, WindowUnavailable
from workers.scorers import RegionCache, ScorerCache
from workers.stage2_gate import Stage2Sender, stage2_gate
from workers.tracker import advance_tracker
from workers.webhooks import Sender, enqueue_incident_event, send_deliveries

log = logging.getLogger(__name__)


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
        settings: Settings,
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
            window = queries.start_window(session, task.window_id)
            if window is None:
                return "skipped"
            camera = session.get(Camera, window.camera_id)
            threshold = _threshold(camera, self.settings)
        if window.attempts > self.settings.windows.max_attempts:
            self._fail(window, f"gave up after {window.attempts - 1} attempts: {window.error}")
            return "failed"
        try:
            frames, context, ingested = self._read(window)
        except WindowUnavailable as lost:
            self._fail(window, str(lost))
            return "failed"
        scorer = self.scorers.for_camera(window.camera_id)
        drawn, locator = self.regions.for_camera(window.camera_id)
        frames, context = mask_window(frames, context, drawn.mask)
        with self.sessions() as session:
            state = queries.load_scorer_state(session, window.camera_id, scorer.name)
        result = scorer.score(frames, context, state)
        encoded = self.encoding.encode(
            window.camera_id,
            frames,
            result.scores,
            result.notes.get("fired") or [scorer.name] * len(frames),
            mask=drawn.mask,
        )
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
            wrote = queries.finish_window(session, window.id, rows, scorer.name, result.state)
            if wrote:
                self.encoding.store(session, window, encoded)
        self.track(window.camera_id, threshold)
        return "scored" if wrote else "duplicate"

    def track(self, camera_id: int, threshold: float) -> int:
        """Advance the camera's incidents; webhook deliveries and stage-2 requests are written in
        the same transaction and their tasks sent only after it commits (a lost send is swept
        up)."""
        created: list[int] = []
        analyses: list[int] = []
        with transaction(self.sessions) as session:

            def on_event(kind: str, incident: Incident) -> None:
                self.encoding.annotate(session, incident)
                incident.zones = regions.incident_zones(session, incident)
                created.extend(enqueue_incident_event(session, kind, incident))
                if self.stage2 is not None:
                    analyses.extend(self.stage2.request(session, kind, incident))

            consumed = advance_tracker(
                session, camera_id, threshold, self.settings.incidents, self._key_frame, on_event
            )
        if created and self.send_delivery is not None:
            send_deliveries(self.send_delivery, created)
        if analyses and self.send_stage2 is not None:
            self.send_stage2(analyses)
        return consumed

    def fail(self, window_id: int, error: str) -> None:
        with transaction(self.sessions) as session:
            window = session.get(Window, window_id)
            queries.fail_window(session, window_id, error)
            camera = session.get(Camera, window.camera_id) if window else None
        if camera is not None:
            self.track(camera.id, _threshold(camera, self.settings))

    def _fail(self, window: Window, error: str) -> None:
        log.error("window %s failed: %s", window.id, error)
        self.fail(window.id, error)

    def _read(self, window: Window) -> tuple[list[Frame], list[Frame], dict[int, float]]:
        first = window.context_offset if window.context_offset is not None else window.first_offset
        records = self.reader.read_range(window.topic, window.partition, first, window.last_offset)
        return window_frames(window, records, self.settings.windows.context_frames)

    def _key_frame(self, window: Window, offset: int) -> bytes | None:
        if offset < 0:
            return None
        try:
            value = self.reader.read_one(window.topic, window.partition, offset).value
        except Exception as error:  # noqa: BLE001 - an incident without a picture beats none
            log.warning("key frame at offset %s unavailable: %s", offset, error)
            return None
        return value if decode_jpeg(value) is not None else None


def window_frames(
    window: Window, records: list[LogRecord], keep_context: int
) -> tuple[list[Frame], list[Frame], dict[int, float]]:
    """Split the records read for a window (context + window range, all cameras of the
    partition) into the window's frames, its last `keep_context` context frames and ingest times
    by offset. A frame count that differs from the window's means the log is not the one the
    window was cut from: WindowUnavailable, never other frames scored in its place."""
    key = str(window.camera_id).encode()
    mine = [r for r in records if r.key == key and not is_end_of_stream(r.headers)]
    decoded, ingested = _decode(str(window.camera_id), mine)
    frames = [f for f in decoded if f.offset >= window.first_offset]
    context = [f for f in decoded if f.offset < window.first_offset]
    if len(frames) != window.n_frames:
        raise WindowUnavailable(
            f"log mismatch: window expects {window.n_frames} frames of camera "
            f"{window.camera_id} at {window.first_offset}..{window.last_offset}, found "
            f"{len(frames)} (was the topic recreated?)"
        )
    return frames, (context[-keep_context:] if keep_context else []), ingested


def _threshold(camera: Camera | None, settings: Settings) -> float:
    if camera is not None and camera.threshold is not None:
        return camera.threshold
    return settings.incidents.default_threshold


def _decode(camera: str, records: list[LogRecord]) -> tuple[list[Frame], dict[int, float]]:
    """Frames of one camera and their ingest times by offset; a record with bad headers or
    pixels becomes an error frame instead of failing the window."""
    frames: list[Frame] = []
    ingested: dict[int, float] = {}
    last_time = 0.0
    for record in records:
        try:
            meta = FrameMeta.from_headers(record.headers)
        except ValueError as bad:
            frames.append(Frame(camera, -1, last_time, None, offset=record.offset, error=str(bad)))
            ingested[record.offset] = last_time
            continue
        last_time = meta.captured_at
        frames.append(frame_from_record(camera, meta, record.value, record.offset))
        ingested[record.offset] = meta.ingested_at
    return frames, ingested


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
        "captured_at": queries.utc(frame.captured_at),
        "ingested_at": queries.utc(ingested),
        "score": None if math.isnan(score) else score,
        "raw": None if math.isnan(raw) or np.isinf(raw) else raw,
        "error": frame.error,
        "zones": zones,
    }


def register_tasks(app: Celery, scorer: WindowScorer) -> None:
    max_attempts = scorer.settings.windows.max_attempts

    @app.task(name=SCORE_WINDOW, bind=True, max_retries=max_attempts - 1)
    def score_window(self: Task, window_id: int, topic: str, partition: int, first: int, last: int):
        task = WindowTask(window_id, topic, partition, first, last)
        try:
            return scorer.run(task)
        except Exception as error:
            if self.request.retries >= max_attempts - 1:
                log.exception("window %s failed after %s attempts", window_id, max_attempts)
                scorer.fail(window_id, f"{type(error).__name__}: {error}")
                return "failed"
            log.warning(
                "window %s attempt %s failed: %s", window_id, self.request.retries + 1, error
            )
            raise self.retry(exc=error, countdown=min(2**self.request.retries, 30)) from error
