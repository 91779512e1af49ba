"""The encoder hook of the stage-1 worker: detect objects and score them against the camera's
object model, embed the view's tiles (the appearance encoder: MobileNetV2 or CLIP) and score them
against its appearance model, embed kept frames with CLIP and zero-shot score them, fuse, then
store it all in the transaction that finishes the window.

Fusion: frame score = max(stage-1 score, object-model score, appearance-model score,
weight x zero-shot probability);
the largest term "fired" and is named in the incident's rule. A frame without a stage-1 score
(undecodable) stays without one.

Built once per worker process. Every stage whose model is not installed (or fails to load) is off,
logged once with the command that turns it on; the window is then scored by stage 1 alone.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from db import embedding_queries as eq
from db import window_queries
from db.clock import utc
from db.models import Incident, Window
from db.session import transaction
from vad.encoders.detectors.keyframes import detect_key_frames
from vad.encoders.registry import stage_status
from vad.encoders.runtime import ModelError
from vad.encoders.zero_shot import PromptSet, ZeroShotScorer, describe
from vad.masks import RegionMask
from vad.scoring.appearance_normality import embed_tiles
from vad.scoring.fusion import Fusion, fuse
from vad.settings import CoreSettings
from vad.types import Frame
from workers.scorers import AppearanceModelCache, ObjectModelCache

log = logging.getLogger(__name__)
_RULES_RECHECK_SECONDS = 10.0
STAGE1_REASONS = {
    "pixel": "pixel model: motion whose outline or speed this part of the view never showed",
    "velocity": (
        "velocity model: something moves faster, or is larger, than this camera's usual movers "
        "at that place"
    ),
}


@dataclass
class EncodedWindow:
    """A window's encoder outputs, ready to be written with its scores."""

    scores: np.ndarray  # fused (or stage-1 where zero-shot is off)
    embeddings: list[dict] = field(default_factory=list)
    detections: list[dict] = field(default_factory=list)
    zero_shot: list[dict] = field(default_factory=list)
    appearance: list[dict] = field(default_factory=list)
    fired: list[str | None] = field(default_factory=list)  # per frame: the model that decided

    def head(self, n: int, last_offset: int) -> EncodedWindow:
        """The window's own first `n` frames, of an encoding that also ran on the look-ahead
        frames after it (those are the next window's to store)."""

        def own(rows: list[dict]) -> list[dict]:
            return [r for r in rows if r["kafka_offset"] <= last_offset]

        return EncodedWindow(
            self.scores[:n],
            own(self.embeddings),
            own(self.detections),
            own(self.zero_shot),
            own(self.appearance),
            self.fired[:n],
        )


class FrameEncoding:
    def __init__(self, settings: CoreSettings, sessions: sessionmaker[Session]):
        self.settings = settings
        self.sessions = sessions
        self.clip = None
        self.looks = None  # the appearance model's tile encoder (may be `self.clip`)
        self.detector = None
        self._clip_model_id: int | None = None
        self._prompts: dict[int, tuple[float, ZeroShotScorer | None]] = {}
        self.objects: ObjectModelCache | None = None
        if settings.encoders.enabled:
            self._load()
        if self.detector is not None and settings.objects.enabled:
            self.objects = ObjectModelCache(sessions, self.detector.name)
        self.appearance: AppearanceModelCache | None = None
        self._refused: set[tuple[int, int]] = set()  # (camera, model) mismatches already logged
        if self.looks is not None:
            self.appearance = AppearanceModelCache(sessions, self.looks.name)
        for stage in stage_status(settings):
            (log.info if stage.on else log.warning)("encoder stage %s", stage.line())

    @property
    def active(self) -> bool:
        return any(m is not None for m in (self.clip, self.looks, self.detector))

    def _load(self) -> None:
        enc = self.settings.encoders
        if enc.store_embeddings or self.settings.zero_shot.enabled:
            self.clip = _try_load("clip", self.settings.model_dir, enc)
        looks = self.settings.appearance
        if looks.enabled:
            same = self.clip is not None and self.clip.name == looks.encoder
            self.looks = (
                self.clip
                if same
                else _try_load("tiles", self.settings.model_dir, enc, looks.encoder)
            )
        if enc.run_detector:
            self.detector = _try_load("detector", self.settings.model_dir, enc)

    def encode(
        self,
        camera_id: int,
        frames: list[Frame],
        stage1: np.ndarray,
        stage1_fired: list[str | None] | None = None,
        mask: RegionMask | None = None,
    ) -> EncodedWindow:
        """Run the installed encoders on the window's decodable frames (one batch each) and fuse
        their models' scores with stage 1's (`vad.scoring.fusion`); `stage1_fired` names the
        stage-1 model that decided each frame (pixel, velocity), when the scorer says. Detections
        mostly inside the camera's `mask` are dropped (the frames come with it frozen)."""
        stage1 = np.asarray(stage1, np.float64)
        own = stage1_fired or ["stage1"] * len(frames)
        out = EncodedWindow(stage1.copy())
        out.fired = [None if math.isnan(v) else own[i] for i, v in enumerate(stage1)]
        index = [i for i, f in enumerate(frames) if f.image is not None]
        if not self.active or not index:
            return out
        images = [frames[i].image for i in index]
        terms = {"stage1": stage1}
        if self.detector is not None:
            terms["objects"] = self._detect(camera_id, frames, index, images, out, mask)
        if self.looks is not None:
            terms["appearance"] = self._appearance(camera_id, frames, index, images, out)
        if self.clip is not None:
            terms["zero-shot"] = self._encode_clip(camera_id, frames, index, images, out, stage1)
        fused = fuse(terms, primary="stage1")
        out.scores = fused.scores
        out.fired = [own[i] if f == "stage1" else f for i, f in enumerate(fused.fired)]
        _mark_fired(out, fused, {f.offset: i for i, f in enumerate(frames)})
        return out

    def _detect(
        self, camera_id, frames, index, images, out: EncodedWindow, mask: RegionMask | None
    ) -> np.ndarray:
        """Detections of every frame outside the mask, scored by the camera's object model: the
        object-model score per frame (NaN where there is no model)."""
        o = self.settings.objects
        detector = mask.hide_from(self.detector) if mask is not None else self.detector
        found_all = detect_key_frames(detector, images, o.detect_every, o.redetect_change)
        model = self.objects.for_camera(camera_id) if self.objects is not None else None
        verdicts = model.score(found_all) if model is not None else [None] * len(found_all)
        scores = np.full(len(frames), np.nan)
        for i, found, verdict in zip(index, found_all, verdicts, strict=True):
            row = {
                **_frame_key(frames[i]),
                "model": self.detector.name,
                "objects": [d.as_dict() for d in found],
                "counts": dict(Counter(d.class_name for d in found)),
                "object_score": None if verdict is None else verdict.score,
                "object_reason": None if verdict is None else verdict.reason,
                "object_fired": False,
            }
            if verdict is not None:
                scores[i] = verdict.score
            out.detections.append(row)
        return scores

    def _appearance(self, camera_id, frames, index, images, out: EncodedWindow) -> np.ndarray:
        """Tile embeddings scored by the camera's appearance model: its score per frame (NaN
        where there is no usable model)."""
        scores = np.full(len(frames), np.nan)
        model = self.appearance.for_camera(camera_id) if self.appearance is not None else None
        if model is None:
            return scores
        try:
            verdicts = model.score(embed_tiles(self.looks, images, model.config.tile_rows))
        except ValueError as error:  # fitted at another frame size: say so once, keep going
            if (camera_id, id(model)) not in self._refused:
                self._refused.add((camera_id, id(model)))
                log.error("appearance model of camera %s not used: %s", camera_id, error)
            return scores
        for i, verdict in zip(index, verdicts, strict=True):
            out.appearance.append(
                {
                    **_frame_key(frames[i]),
                    "model": self.looks.name,
                    "score": verdict.score,
                    "reason": verdict.reason,
                    "fired": False,
                }
            )
            scores[i] = verdict.score
        return scores

    def _encode_clip(
        self, camera_id, frames, index, images, out: EncodedWindow, stage1
    ) -> np.ndarray:
        """CLIP embeddings (stored when configured) and the zero-shot term per frame:
        weight x P(anomalous) (NaN where zero-shot is off)."""
        terms = np.full(len(frames), np.nan)
        embeds = self.clip.embed_images(images)
        if self.settings.encoders.store_embeddings:
            model_id = self._model_id()
            out.embeddings = [
                {**_frame_key(frames[i]), "model_id": model_id, "embedding": e}
                for i, e in zip(index, embeds, strict=True)
            ]
        scorer = self._scorer(camera_id) if self.settings.zero_shot.enabled else None
        if scorer is None:
            return terms
        result = scorer.score(embeds)
        weight = self.settings.zero_shot.weight
        for j, i in enumerate(index):
            p = float(result.probability[j])
            terms[i] = weight * p
            before = float(stage1[i])
            out.zero_shot.append(
                {
                    **_frame_key(frames[i]),
                    "model": self.clip.name,
                    "stage1": None if math.isnan(before) else before,
                    "probability": p,
                    "fused": None,
                    "top_rule": result.top_rule[j],
                    "fired": "stage1",
                }
            )
        return terms

    def _model_id(self) -> int:
        if self._clip_model_id is None:
            with transaction(self.sessions) as session:
                self._clip_model_id = eq.register_model(
                    session, self.clip.name, "clip", self.clip.dim, self.clip.manifest
                )
        return self._clip_model_id

    def _scorer(self, camera_id: int) -> ZeroShotScorer | None:
        """The camera's prompt set, embedded once and refreshed when its rules may have changed."""
        cached = self._prompts.get(camera_id)
        if cached and time.monotonic() - cached[0] < _RULES_RECHECK_SECONDS:
            return cached[1]
        with self.sessions() as session:
            rules = eq.camera_rules(session, camera_id)
        prompts = PromptSet.for_camera(self.settings.zero_shot, rules)
        if cached and cached[1] is not None and cached[1].prompts == prompts:
            scorer = cached[1]
        elif prompts is None:
            scorer = None
        else:
            scorer = ZeroShotScorer.build(self.clip, prompts, self.settings.zero_shot.temperature)
        self._prompts[camera_id] = (time.monotonic(), scorer)
        return scorer

    def store(self, session: Session, window: Window, encoded: EncodedWindow) -> None:
        """Write the outputs in the caller's (window-finishing) transaction."""
        eq.store_frame_outputs(
            session,
            window.id,
            window.camera_id,
            encoded.embeddings,
            encoded.detections,
            encoded.zero_shot,
            encoded.appearance,
        )

    def annotate(self, session: Session, incident: Incident) -> None:
        """Say which model decided the incident's peak frame, and why (`incidents.fired`)."""
        if incident.peak_offset is None:
            return
        camera, offset = incident.camera_id, incident.peak_offset
        decided = window_queries.fired_at(session, camera, offset)
        found = eq.detections_at(session, camera, offset)
        zero_shot = eq.zero_shot_at(session, camera, offset)
        looks = eq.appearance_at(session, camera, offset)
        if zero_shot is not None and zero_shot.fired == "zero-shot":
            what = describe(zero_shot.fired, zero_shot.top_rule, zero_shot.probability)
        elif looks is not None and looks.fired:
            what = f"appearance model: {looks.reason} (score {looks.score:.2f})"
        elif found is not None and found.object_fired:
            what = f"object model: {found.object_reason} (score {found.object_score:.2f})"
        elif decided in STAGE1_REASONS:
            what = STAGE1_REASONS[decided]
        elif decided is not None or any(r is not None for r in (zero_shot, found, looks)):
            what = "stage-1 score"
        else:
            return
        incident.fired = what


def _mark_fired(out: EncodedWindow, fused: Fusion, position: dict[int, int]) -> None:
    """Each model's row says whether it decided its frame's fused score."""
    for row in out.detections:
        row["object_fired"] = fused.fired[position[row["kafka_offset"]]] == "objects"
    for row in out.appearance:
        row["fired"] = fused.fired[position[row["kafka_offset"]]] == "appearance"
    for row in out.zero_shot:
        i = position[row["kafka_offset"]]
        row["fired"] = fused.fired[i] or "stage1"
        row["fused"] = None if math.isnan(fused.scores[i]) else float(fused.scores[i])


def _frame_key(frame: Frame) -> dict:
    return {"kafka_offset": frame.offset, "captured_at": utc(frame.captured_at)}


def _try_load(kind: str, model_dir: Path, enc, name: str | None = None):
    try:
        # A model that is not installed is None here: stage_status reports it with the command
        # that installs it.
        if kind == "tiles":
            from vad.encoders.image import tile_encoder

            return tile_encoder(model_dir, name, enc)
        if kind == "clip":
            from vad.encoders.clip import ClipEncoder

            return ClipEncoder.installed(model_dir, enc)
        from vad.encoders.detectors import Detector

        return Detector.installed(model_dir, enc)
    except ModelError as error:
        log.error("encoder stage %s off: %s", kind, error)
        return None
