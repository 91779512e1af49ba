"""Operators' verdicts on incidents, and what a false alarm teaches the camera's models (issue 20).

`confirmed` is recorded. `false_alarm` also reads the incident's frames back from the log (its
windows, as the worker read them) and adds them to the camera's normal memory as a NEW model
version: the newest active version's folder is copied and every family with an incremental update
learns the frames (`vad.scoring.incremental.extend_folder`: seconds, not a refit), then the
version is registered like any fitted one, so workers pick it up within seconds. The version
records its parent and what it learned from (incident, frame ranges). Undo retires that version
(workers skip retired versions, so its parent scores again) and forgets the verdict.

The API (`POST/DELETE /incidents/{id}/feedback`), the CLI (`vad feedback`) and the dashboard all
come here.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import clock, model_registry, regions
from db.embeddings import FrameDetections
from db.models import Camera, Incident, IncidentFeedback, NormalityModelRecord, Window
from db.session import transaction
from feedback.settings import FeedbackSettings
from feedback.stored_footage import StoredClips, read_clips
from frames.reader import FrameReader
from vad.masks import RegionMask
from vad.scoring.incremental import Recorded, extend_folder

log = logging.getLogger(__name__)
Verdict = Literal["confirmed", "false_alarm"]
VERDICTS: tuple[str, ...] = ("confirmed", "false_alarm")


class FeedbackError(ValueError):
    """Feedback that cannot be applied; the message says why and what to do."""


class IncidentMissing(FeedbackError):
    pass


@dataclass(frozen=True)
class FeedbackResult:
    incident_id: int
    verdict: str | None  # None after undo
    note: str | None
    model_version: int | None  # the version a false alarm taught (or undo retired)
    lines: list[str]


def feedback_of(session: Session, incident_id: int) -> dict | None:
    """The incident's verdict as shown by the API and CLI (None: no verdict)."""
    row = session.scalar(
        select(IncidentFeedback).where(IncidentFeedback.incident_id == incident_id)
    )
    if row is None:
        return None
    model = session.get(NormalityModelRecord, row.model_id) if row.model_id else None
    return {
        "verdict": row.verdict,
        "note": row.note,
        "author": row.author,
        "created_at": row.created_at,
        "model_version": model.version if model else None,
    }


def give_feedback(
    sessions: sessionmaker[Session],
    settings: FeedbackSettings,
    reader: FrameReader | None,
    incident_id: int,
    verdict: Verdict,
    note: str | None,
    author: str,
) -> FeedbackResult:
    """Record a verdict; a false alarm teaches the camera's newest model. A new verdict replaces
    the earlier one (a false alarm's version is undone when it becomes confirmed; the same verdict
    with another note only changes the note). Raises FeedbackError with the reason, having
    changed nothing."""
    if verdict not in VERDICTS:
        raise FeedbackError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    note = (note or "").strip() or None
    with sessions() as session:
        existing = feedback_of(session, _incident(session, incident_id).id)
    if existing is not None and existing["verdict"] == verdict:
        version = existing["model_version"]
        if existing["note"] == note:
            return FeedbackResult(incident_id, verdict, note, version, ["unchanged"])
        with transaction(sessions) as session:
            _row(session, incident_id).note = note
        return FeedbackResult(incident_id, verdict, note, version, ["note updated"])
    lines: list[str] = []
    model_id = version = None
    if verdict == "false_alarm":  # learned first: a failure changes nothing
        if reader is None:
            raise FeedbackError("learning from a false alarm needs the frame log (Kafka)")
        model_id, version, lines = _learn_false_alarm(sessions, settings, reader, incident_id, note)
    elif existing is not None:  # a false alarm becomes confirmed: its version is undone
        lines += undo_feedback(sessions, incident_id).lines
    with transaction(sessions) as session:
        old = _row(session, incident_id)
        if old is not None:  # a confirmed incident marked a false alarm: no version to undo
            session.delete(old)
            session.flush()
        session.add(
            IncidentFeedback(
                incident_id=incident_id,
                verdict=verdict,
                note=note,
                author=author,
                model_id=model_id,
            )
        )
    return FeedbackResult(incident_id, verdict, note, version, lines)


def _row(session: Session, incident_id: int) -> IncidentFeedback | None:
    return session.scalar(
        select(IncidentFeedback)
        .where(IncidentFeedback.incident_id == incident_id)
        .with_for_update()
    )


def undo_feedback(sessions: sessionmaker[Session], incident_id: int) -> FeedbackResult:
    """Forget the incident's verdict; a false alarm's model version is retired, so the version
    before it scores again. Refused while a newer active version was built on top of it."""
    with transaction(sessions) as session:
        _incident(session, incident_id)
        row = _row(session, incident_id)
        if row is None:
            raise FeedbackError(f"incident {incident_id} has no feedback to undo")
        version, lines = None, [f"verdict {row.verdict!r} removed"]
        model = session.get(NormalityModelRecord, row.model_id) if row.model_id else None
        if model is not None and model.retired_at is None:
            child = session.scalar(
                select(NormalityModelRecord).where(
                    NormalityModelRecord.parent_id == model.id,
                    NormalityModelRecord.retired_at.is_(None),
                )
            )
            if child is not None:
                raise FeedbackError(
                    f"model v{child.version} was built on v{model.version} (this incident's "
                    f"update): undo {_what(child)} first"
                )
            model.retired_at = clock.now_utc()
            version = model.version
            active = model_registry.latest_model(session, model.camera_id)
            lines.append(
                f"model v{model.version} retired; the camera scores with "
                + (f"v{active.version}" if active else "the motion baseline")
            )
        session.delete(row)
    return FeedbackResult(incident_id, None, None, version, lines)


def _what(model: NormalityModelRecord) -> str:
    incidents = (model.learned_from or {}).get("incidents") or []
    return f"the feedback on incident {incidents[0]}" if incidents else f"v{model.version}"


def _incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentMissing(f"no incident {incident_id}")
    return incident


def encoders_for_update(
    folder: Path, settings: FeedbackSettings, view_mask: RegionMask, recorded: dict[str, Recorded]
) -> dict:
    """The detector / tile encoder the worker runs, loaded only when the model folder holds a
    model that needs one and its outputs were not `recorded` for these frames (a model whose
    encoder cannot be loaded is kept, and said so); the detector blind to the camera's mask, as
    the worker's. Nothing else is loaded (CLIP, zero-shot: no model learns from them here)."""
    from vad.encoders.detector import Detector
    from vad.encoders.image import tile_encoder
    from vad.scoring.appearance_normality import APPEARANCE_JSON
    from vad.scoring.object_normality import OBJECTS_JSON

    enc, out = settings.encoders, {}
    if not enc.enabled:
        return out
    try:
        wants_objects = enc.run_detector and settings.objects.enabled
        if wants_objects and (folder / OBJECTS_JSON).exists() and "detector" not in recorded:
            out["detector"] = view_mask.hide_from(Detector.installed(settings.model_dir, enc))
        if settings.appearance.enabled and (folder / APPEARANCE_JSON).exists():
            out["tiles"] = tile_encoder(settings.model_dir, settings.appearance.encoder, enc)
    except Exception as error:  # noqa: BLE001 - ModelError: learn without them, say so
        log.warning("encoders for the incremental update unavailable: %s", error)
    return {name: encoder for name, encoder in out.items() if encoder is not None}


def _recorded_detections(
    session: Session, camera_id: int, windows: list[Window], stored: StoredClips, view_mask
) -> dict[str, Recorded]:
    """{"detector": the worker's detections of every frame read back} when it stored them for
    all of them with one detector (`frame_detections`), filtered by today's mask; else {} (the
    detector then runs again)."""
    from vad.encoders.detectors import Detection

    offsets = [o for clip in stored.offsets for o in clip]
    if not offsets or not windows:
        return {}
    rows = session.execute(
        select(FrameDetections.kafka_offset, FrameDetections.model, FrameDetections.objects)
        .join(Window, Window.id == FrameDetections.window_id)
        .where(
            FrameDetections.camera_id == camera_id,
            FrameDetections.kafka_offset.in_(offsets),
            Window.topic_id == windows[0].topic_id,
            Window.partition == windows[0].partition,
        )
        .order_by(FrameDetections.id)
    ).all()
    by_offset = {offset: (model, objects) for offset, model, objects in rows}
    models = {by_offset[o][0] for o in offsets if o in by_offset}
    if len(models) != 1 or any(o not in by_offset for o in offsets):
        return {}
    frames = [
        view_mask.visible(
            [Detection(d["class"], float(d["confidence"]), tuple(d["box"])) for d in objects]
        )
        for objects in (by_offset[o][1] for o in offsets)
    ]
    return {"detector": Recorded(models.pop(), frames)}


def _learn_false_alarm(
    sessions: sessionmaker[Session],
    settings: FeedbackSettings,
    reader: FrameReader,
    incident_id: int,
    note: str | None,
) -> tuple[int, int, list[str]]:
    """(model id, version, lines): the camera's newest model extended by the incident's frames,
    registered as a new version."""
    with sessions() as session:
        incident = _incident(session, incident_id)
        camera = session.get(Camera, incident.camera_id)
        parent = model_registry.latest_model(session, incident.camera_id)
        if parent is None:
            raise FeedbackError(
                f"camera {camera.name!r} has no normality model to teach: fit one first with "
                f"`vad camera learn {camera.name} --from FOOTAGE`"
            )
        windows = session.scalars(
            select(Window)
            .where(
                Window.camera_id == incident.camera_id,
                Window.seq.between(incident.first_window_seq, incident.last_window_seq),
            )
            .order_by(Window.seq)
        ).all()
        view_mask = regions.camera_regions(session, incident.camera_id).mask
        session.expunge_all()
    try:
        stored = read_clips(
            reader, windows, settings.windows.context_frames, settings.feedback.max_frames
        )
    except Exception as error:  # noqa: BLE001 - WindowUnavailable, TimeoutError, KafkaError
        raise FeedbackError(
            f"the frames of incident {incident_id} cannot be read back ({error}); the verdict "
            "was not recorded"
        ) from None
    if stored.frames < 2:
        raise FeedbackError(f"incident {incident_id} has no decodable frames left to learn from")
    with sessions() as session:
        recorded = _recorded_detections(session, incident.camera_id, windows, stored, view_mask)
    if view_mask:  # as `vad camera learn`: nothing is learned from the masked part of the view
        stored.clips = [list(view_mask.freeze_clip(clip)) for clip in stored.clips]
    learned_from = {
        "kind": "false_alarm",
        "parent_version": parent.version,
        "incidents": [incident_id],
        "frame_ranges": stored.ranges,
        "note": note,
    }
    folder = settings.model_dir.resolve() / "normality" / camera.name
    staging = folder / f".staging-{uuid.uuid4().hex}"
    try:
        encoders = encoders_for_update(Path(parent.path), settings, view_mask, recorded)
        try:
            extension = extend_folder(
                Path(parent.path),
                staging,
                stored.clips,
                learned_from,
                encoders,
                recorded,
                settings.feedback.recalibrate,
                settings.feedback.spread,
            )
        except (ValueError, OSError) as error:  # frames of another size, a damaged folder
            raise FeedbackError(
                f"v{parent.version} cannot learn incident {incident_id}: {error}"
            ) from None
        with transaction(sessions) as session:
            version = model_registry.next_model_version(session, camera.id)
            target = folder / f"v{version}"
            shutil.rmtree(target, ignore_errors=True)  # an unregistered leftover of a crash
            staging.rename(target)
            record = model_registry.register_model(
                session,
                camera.id,
                version,
                str(target),
                parent.frames + stored.frames,
                f"v{parent.version} + false alarm #{incident_id} ({stored.frames} frames)",
                {**dict(parent.info or {}), "extension": extension.lines},
                parent_id=parent.id,
                learned_from=learned_from,
            )
            model_id = record.id
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    lines = [
        f"model v{version} = v{parent.version} + {stored.frames} frames of incident "
        f"{incident_id}, learned in {extension.seconds:.1f} s",
        *extension.lines.values(),
    ]
    return model_id, version, lines
