"""Learning a camera's stage-1 models from clips and registering them as its new model version.

The one place every stage-1 family (pixel normality, velocity, objects + scene norms, appearance)
is fitted for the worker: `vad camera learn --from/--minutes` (footage, `service/learning.py`),
`--recent` (the stored frames of the log, `feedback/stored_footage.py`) and through it the relearn
schedule (`service/relearn.py`, a child process so a slow fit never stalls `vad up`). No typer
here: a problem is a `LearnError` the caller turns into its message and exit code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from db import model_registry, regions
from db.models import Camera
from db.session import transaction
from frames.reader import FrameReader, WindowUnavailable
from ingest.sources import SourceError
from service.learning import EncoderRecorder
from service.settings import Settings
from vad.masks import RegionMask


class LearnError(ValueError):
    """Learning cannot start or finish; the message says why (and what to do)."""


@dataclass
class LearnedModel:
    """The registered version, and a note per companion family (fitted, or off and why)."""

    version: int
    directory: Path
    frames: int
    origin: str
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass
class RecentLearning:
    """`learn_recent`'s outcome: the model, plus the incidents left out and the windows skipped."""

    model: LearnedModel
    left_out_incidents: list = field(default_factory=list)
    skipped_windows: list = field(default_factory=list)


def learn_recent(
    settings: Settings,
    sessions: sessionmaker[Session],
    kafka_bootstrap: str,
    name: str,
    camera_id: int,
    since: datetime,
) -> RecentLearning:
    """Refit from the camera's stored frames since `since`, minus open and confirmed incidents."""
    from feedback.stored_footage import recent_windows, spread, stream_clips

    with sessions() as session:
        windows, excluded = recent_windows(session, camera_id, since)
        session.expunge_all()
    if not windows:
        raise LearnError(
            f"camera {name!r} has no scored frames since {since:%Y-%m-%d %H:%M} UTC outside open "
            "or confirmed incidents; learn from footage with --from instead"
        )
    chosen, joined = spread(windows, settings.feedback.relearn_max_frames)
    frames = sum(w.n_frames for w in chosen)
    origin = f"stored frames since {since.isoformat(timespec='seconds')} ({frames} frames)"
    learned_from = {
        "kind": "recent",
        "since": since.isoformat(timespec="seconds"),
        "windows": [chosen[0].seq, chosen[-1].seq],
        "window_count": len(chosen),
        "frames": frames,
        "left_out_incidents": excluded,
    }
    reader = FrameReader(kafka_bootstrap)
    try:
        clips, skipped = stream_clips(reader, chosen, settings.windows.context_frames, joined)
        model = fit_and_register(settings, sessions, name, camera_id, clips, origin, learned_from)
    finally:
        reader.close()
    return RecentLearning(model, excluded, skipped)


def camera_view(sessions: sessionmaker[Session], settings: Settings, camera_id: int):
    """(masks, fps): the camera's masks now (`vad/masks.py`), applied to every footage `learn`
    fits on, and its analysis rate setting (the scene norms' clock for clips that carry no
    media times of their own, `scene_clock`)."""
    with sessions() as session:
        camera = session.get(Camera, camera_id)
        fps = settings.ingest.camera_fps(camera.fps)
        return regions.camera_regions(session, camera_id).mask, fps


def _noting(clips: Iterable[Iterable[np.ndarray]], read: list) -> Iterator[Iterable[np.ndarray]]:
    """Pass `clips` through, appending each to `read` (to find their media times afterwards)."""
    for clip in clips:
        read.append(clip)
        yield clip


def scene_clock(clip: Iterable[np.ndarray], frames: int, fps: float) -> list[float]:
    """The times the scene norms track objects by, for the `frames` analysed frames of `clip`:
    the media times it was read at (a `TimedClip`: at the camera's analysis rate, which the
    stride rule sets from the source's rate, with the frames the pruner left out as gaps), else
    one frame every 1 / `fps`."""
    times = getattr(clip, "times", None)
    if times is not None and len(times) == frames:
        return list(times)
    return [i / fps for i in range(frames)]


def fit_and_register(
    settings: Settings,
    sessions: sessionmaker[Session],
    name: str,
    camera_id: int,
    clips: Iterable[Iterable[np.ndarray]],
    origin: str,
    learned_from: dict,
) -> LearnedModel:
    """Fit every stage-1 model on the clips (one decode) and register them as a new version."""
    from service.progress import progress_bar, track_clips
    from vad.scoring.appearance_normality import fit_appearance_model
    from vad.scoring.normality import fit_normality_model
    from vad.scoring.object_normality import fit_object_model
    from vad.scoring.velocity import fit_velocity_from_greys
    from vad.stage2.scene import fit_scene_norms

    view_mask, fps = camera_view(sessions, settings, camera_id)
    recorder, objects_note = object_recorder(settings, view_mask)
    looks_recorder, looks_note = appearance_recorder(settings)
    motion_recorder = velocity_recorder(settings)
    velocity_note = "velocity model: off (VAD_VELOCITY__ENABLED=false)"
    objects = looks = velocity = scene = None
    bar = progress_bar()
    try:
        started = time.perf_counter()
        bar.start()
        frames_read = bar.add_task("learning", total=None)
        read: list[Iterable[np.ndarray]] = []
        clips = _noting(clips, read)
        clips = track_clips(clips, bar, frames_read, "learning: frames of clip", "fitting models")
        if view_mask:  # the models learn nothing from the masked part of the view
            clips = (view_mask.freeze_clip(clip) for clip in clips)
        for wrapper in (recorder, looks_recorder, motion_recorder):
            clips = wrapper.wrap(clips) if wrapper is not None else clips
        model = fit_normality_model(clips, settings.normality)
        if motion_recorder is not None:
            velocity = fit_velocity_from_greys(
                motion_recorder.clips, model.frame_size, settings.velocity
            )
            velocity_note = f"velocity model: {velocity.summary()}"
            model.metadata["velocity_model"] = velocity.metadata
        if recorder is not None:
            found = recorder.clips
            clocks = (scene_clock(c, len(f), fps) for c, f in zip(read, found, strict=True))
            scene = fit_scene_norms(zip(found, clocks, strict=True))
            objects = fit_object_model(recorder.clips, recorder.name, settings.objects, fps)
            objects_note = f"object model ({recorder.name}): {objects.summary()}"
            model.metadata["object_model"] = {
                "detector": recorder.name,
                **objects.metadata,
            }
        if looks_recorder is not None:
            looks = fit_appearance_model(
                [np.asarray(c) for c in looks_recorder.clips],
                looks_recorder.name,
                model.frame_size,
                settings.appearance,
            )
            looks_note = f"appearance model ({looks.encoder}): {looks.summary()}"
            model.metadata["appearance_model"] = {"encoder": looks.encoder, **looks.metadata}
    except (ValueError, SourceError, WindowUnavailable, TimeoutError) as error:
        raise LearnError(str(error)) from error
    finally:
        bar.stop()
    frames = int(model.metadata.get("frames_seen", 0))
    with transaction(sessions) as session:
        version = model_registry.next_model_version(session, camera_id)
        directory = settings.model_dir.resolve() / "normality" / name / f"v{version}"
        model.save(directory)
        for companion in (objects, looks, velocity, scene):
            if companion is not None:
                companion.save(directory)
        model_registry.register_model(
            session,
            camera_id,
            version,
            str(directory),
            frames,
            origin,
            dict(model.metadata),
            learned_from=learned_from,
        )
    seconds = time.perf_counter() - started
    notes = [velocity_note, objects_note, looks_note]
    return LearnedModel(version, directory, frames, origin, seconds, notes)


def velocity_recorder(settings: Settings) -> EncoderRecorder | None:
    """Records the small grey frames the velocity model learns from (same decode as the rest)."""
    from vad.scoring.velocity import to_grey

    config = settings.velocity
    if not config.enabled:
        return None
    return EncoderRecorder("velocity", lambda batch: [to_grey(f, config.width) for f in batch], 64)


def object_recorder(
    settings: Settings, view_mask: RegionMask | None = None
) -> tuple[EncoderRecorder | None, str]:
    """(recorder, note): the detector that records objects while learning (blind to the camera's
    mask, as the worker's), or None and why not."""
    from vad.encoders.detectors import Detector
    from vad.encoders.detectors.keyframes import detect_key_frames
    from vad.encoders.registry import stage_status
    from vad.encoders.runtime import ModelError

    if not settings.objects.enabled:
        return None, "object model: off (disabled: VAD_OBJECTS__ENABLED=false)"
    detector_stage = next(s for s in stage_status(settings) if s.stage == "detector")
    if not detector_stage.on:
        return None, f"object model: off (detector {detector_stage.reason})"
    try:
        detector = Detector.installed(settings.model_dir, settings.encoders)
    except ModelError as error:
        raise LearnError(
            f"the detector cannot be loaded ({error}); reinstall it or learn without the object "
            "model: VAD_OBJECTS__ENABLED=false"
        ) from error
    if detector is None:
        return None, f"object model: off (detector {settings.encoders.detector} not installed)"
    if view_mask is not None:
        detector = view_mask.hide_from(detector)
    o = settings.objects

    def detect(frames):  # key frames only, as the worker scores (keyframes.py)
        return detect_key_frames(detector, frames, o.detect_every, o.redetect_change)

    return EncoderRecorder(detector.name, detect, detector.batch_size * o.detect_every), ""


def appearance_recorder(settings: Settings) -> tuple[EncoderRecorder | None, str]:
    """(recorder, note): the encoder that embeds view tiles while learning (`appearance.encoder`),
    or None and why not."""
    from vad.encoders.image import tile_encoder
    from vad.encoders.registry import stage_status
    from vad.encoders.runtime import ModelError
    from vad.scoring.appearance_normality import embed_tiles

    looks = settings.appearance
    stage = next(s for s in stage_status(settings) if s.stage == "appearance")
    if not stage.on:
        return None, f"appearance model: off ({stage.reason})"
    try:
        encoder = tile_encoder(settings.model_dir, looks.encoder, settings.encoders)
    except ModelError as error:
        raise LearnError(
            f"the appearance encoder cannot be loaded ({error}); reinstall it or learn without "
            "the appearance model: VAD_APPEARANCE__ENABLED=false"
        ) from error
    if encoder is None:
        return None, f"appearance model: off ({looks.encoder} not installed)"
    recorder = EncoderRecorder(
        encoder.name,
        lambda frames: list(embed_tiles(encoder, frames, looks.tile_rows)),
        max(1, settings.encoders.batch_size // 4),  # each frame is several tiles
        every=looks.learn_every,
    )
    return recorder, ""
