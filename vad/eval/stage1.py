"""Stage 1 as the worker runs it by default, fitted and scored offline (`vad eval`).

The worker fuses by max (`vad.scoring.fusion`) the normality (pixel) model, the velocity model
(`velocity.enabled`, no encoder needed) and the models fitted next to them when their encoders
are installed: the object model (detector installed, `objects.enabled`), the appearance
model (its tile encoder installed, `appearance.enabled`) and CLIP zero-shot on the default watch
rules (CLIP installed, `zero_shot.enabled`). `installed_encoders` makes the same choices as the
worker (`workers/encoding.FrameEncoding`) from the same settings and model folder, so an
evaluation needs no flag to score the full stage 1, and `Stage1.parts` says what it scored.

This is the one place an evaluation fits and scores stage 1: a new stage-1 model plugs in here
(`Stage1.fit` and `Stage1.score`), and every `vad eval` command and `bench/` script follows.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from vad.scoring.fusion import fuse
from vad.scoring.look_ahead import look_ahead, media_times
from vad.scoring.normality import NormalityModel, fit_normality_model
from vad.scoring.velocity import VelocityModel, fit_velocity_from_greys, to_grey
from vad.settings import CoreSettings


@dataclass
class Stage1Encoders:
    """The installed encoders the worker would run for stage 1 (None = that stage is off)."""

    tiles: object | None = None  # the appearance model's tile encoder
    detector: object | None = None
    clip: object | None = None  # zero-shot
    off: dict[str, str] = field(default_factory=dict)  # stage -> why it is off


def installed_encoders(settings: CoreSettings) -> Stage1Encoders:
    """Load what the worker loads for the stage-1 score; a model folder that exists but cannot
    be opened raises `ModelError` (as `vad camera learn` refuses it), a missing one is off."""
    from vad.encoders.clip import ClipEncoder
    from vad.encoders.detector import Detector
    from vad.encoders.image import tile_encoder
    from vad.encoders.runtime import fix_hint

    enc, out = settings.encoders, Stage1Encoders()
    if not enc.enabled:
        out.off["encoders"] = "VAD_ENCODERS__ENABLED=false"
        return out
    if settings.zero_shot.enabled:
        out.clip = ClipEncoder.installed(settings.model_dir, enc)
        if out.clip is None:
            out.off["zero-shot"] = f"{enc.clip} not installed; {fix_hint(enc.clip)}"
    looks = settings.appearance
    if looks.enabled:
        same = out.clip is not None and out.clip.name == looks.encoder
        out.tiles = out.clip if same else tile_encoder(settings.model_dir, looks.encoder, enc)
        if out.tiles is None:
            out.off["appearance"] = f"{looks.encoder} not installed; {fix_hint(looks.encoder)}"
    if enc.run_detector and settings.objects.enabled:
        out.detector = Detector.installed(settings.model_dir, enc)
        if out.detector is None:
            out.off["objects"] = f"{enc.detector} not installed; {fix_hint(enc.detector)}"
    return out


@dataclass
class Stage1Scores:
    """One clip's fused stage-1 scores and each fused term's own (NaN = undecodable frame), and
    the detections the object model scored (per frame; empty without it), so a caller checking
    what the detector saw need not run it again."""

    fused: np.ndarray
    terms: dict[str, np.ndarray]
    detections: list = field(default_factory=list)


class Stage1:
    """Stage 1 fitted on one camera's normal clips (`fit`), scoring whole clips (`score`)."""

    def __init__(self, settings: CoreSettings, encoders: Stage1Encoders | None = None) -> None:
        self.settings = settings
        self.encoders = encoders or Stage1Encoders()
        self.pixel: NormalityModel | None = None
        self.velocity: VelocityModel | None = None
        self.objects = None
        self.appearance = None
        self.zero_shot = None
        self.fit_seconds = 0.0
        # per training clip, per frame: what the object model was fitted on (key-frame
        # detections, reused in between), for `vad eval stage2`'s scene norms
        self.train_detections: list[list] = []

    @property
    def parts(self) -> list[str]:
        """What this stage 1 fuses, e.g. ['pixel', 'appearance (mobilenetv2)']."""
        e = self.encoders
        named = [("objects", e.detector), ("appearance", e.tiles), ("zero-shot", e.clip)]
        own = ["pixel"] + (["velocity"] if self.settings.velocity.enabled else [])
        return own + [f"{kind} ({model.name})" for kind, model in named if model is not None]

    def fit(self, clips: Iterable[list[np.ndarray]], rate: float | None = None) -> float:
        """Fit every part on the same frames (each clip decoded once); returns the seconds spent,
        decoding included, as `vad camera learn` spends them. `rate`: the clips' analysis rate
        (frames per second), which the object model's speeds need (without it: none)."""
        started = time.perf_counter()
        detections: list[list] = []
        tiles: list[np.ndarray] = []
        size: list[tuple[int, int]] = []
        greys: list[list[np.ndarray]] = []
        recorded = self._recorded(clips, detections, tiles, size, greys)
        self.pixel = fit_normality_model(recorded, self.settings.normality)
        if self.settings.velocity.enabled:
            self.velocity = fit_velocity_from_greys(
                greys, self.pixel.frame_size, self.settings.velocity
            )
        self._fit_companions(detections, tiles, size[0] if size else None, rate)
        self.train_detections = detections
        self.fit_seconds = time.perf_counter() - started
        return self.fit_seconds

    def _recorded(self, clips, detections, tiles, size, greys) -> Iterator[list[np.ndarray]]:
        """The clips, with the encoders run on each as the pixel model reads it."""
        from vad.scoring.appearance_normality import embed_tiles

        e, looks = self.encoders, self.settings.appearance
        for frames in clips:
            if not frames:
                continue
            size.append((int(frames[0].shape[1]), int(frames[0].shape[0])))
            if e.detector is not None:
                detections.append(self.detect(frames))
            if e.tiles is not None:
                tiles.append(embed_tiles(e.tiles, frames[:: looks.learn_every], looks.tile_rows))
            if self.settings.velocity.enabled:
                greys.append([to_grey(f, self.settings.velocity.width) for f in frames])
            yield frames

    def detect(self, frames: list[np.ndarray]) -> list:
        """Detections of a clip, on key frames as the worker runs the detector."""
        from vad.encoders.detectors.keyframes import detect_key_frames

        o = self.settings.objects
        return detect_key_frames(self.encoders.detector, frames, o.detect_every, o.redetect_change)

    def _fit_companions(self, detections, tiles, size, rate: float | None) -> None:
        from vad.scoring.appearance_normality import fit_appearance_model
        from vad.scoring.object_normality import fit_object_model

        e, s = self.encoders, self.settings
        if e.detector is not None:
            self.objects = fit_object_model(detections, e.detector.name, s.objects, rate)
        if e.tiles is not None:
            self.appearance = fit_appearance_model(tiles, e.tiles.name, size, s.appearance)
        if e.clip is not None:
            from vad.encoders.zero_shot import PromptSet, ZeroShotScorer

            prompts = PromptSet.for_camera(s.zero_shot, {})
            if prompts is not None:
                self.zero_shot = ZeroShotScorer.build(e.clip, prompts, s.zero_shot.temperature)

    def extend(
        self,
        clips: list[list[np.ndarray]],
        recalibrate: bool | None = None,
        spread: float | None = None,
    ) -> Stage1:
        """A copy that also knows `clips` as normal (an operator's false alarm): every fitted
        family learns them incrementally (`vad.scoring.incremental`); zero-shot is kept.
        `recalibrate`, `spread`: as `feedback.recalibrate`, `feedback.spread` (the defaults)."""
        from vad.scoring.incremental import extend_models

        if self.pixel is None:
            raise RuntimeError("Stage1.extend before fit")
        out = copy.copy(self)
        models = {
            "pixel": self.pixel,
            "velocity": self.velocity,
            "objects": self.objects,
            "appearance": self.appearance,
        }
        encoders = {"tiles": self.encoders.tiles, "detector": self.encoders.detector}
        if recalibrate is None:
            recalibrate = self.settings.feedback.recalibrate
        if spread is None:
            spread = self.settings.feedback.spread
        learned = extend_models(models, clips, encoders, recalibrate, spread)
        out.pixel, out.velocity = learned["pixel"], learned["velocity"]
        out.objects, out.appearance = learned["objects"], learned["appearance"]
        return out

    def score(self, frames: list[np.ndarray], rate: float) -> Stage1Scores:
        """A whole clip analysed at `rate` frames per second, scored as the worker scores it
        (each model causal and calibrated, fused by max, then averaged over the next
        `scoring.look_ahead_seconds` of frames, the window shrinking at the clip's end). The
        terms are each model's own scores, before the look-ahead."""
        from vad.scoring.appearance_normality import embed_tiles

        if self.pixel is None:
            raise RuntimeError("Stage1.score before fit")
        _, pixel = self.pixel.score_frames(frames)
        terms: dict[str, np.ndarray] = {"pixel": pixel}
        if self.velocity is not None:
            terms["velocity"] = self.velocity.score_frames(frames)[1]
        e = self.encoders
        detections: list = []
        if self.objects is not None:
            detections = self.detect(frames)
            verdicts = self.objects.score(detections, media_times(len(frames), rate))
            terms["objects"] = np.array([v.score for v in verdicts])
        if self.appearance is not None:
            embedded = embed_tiles(e.tiles, frames, self.appearance.config.tile_rows)
            terms["appearance"] = np.array([v.score for v in self.appearance.score(embedded)])
        if self.zero_shot is not None:
            probability = self.zero_shot.score(e.clip.embed_images(frames)).probability
            terms["zero-shot"] = self.settings.zero_shot.weight * np.asarray(probability)
        fused = fuse(terms, primary="pixel").scores
        seconds = self.settings.scoring.look_ahead_seconds
        fused = look_ahead(fused, media_times(len(frames), rate), seconds)
        return Stage1Scores(fused, terms, detections)
