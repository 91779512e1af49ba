"""Stage 1's learned models behind the `Scorer` interface: the pixel model and, when the camera
was learned with it, the velocity model, fused by `vad.scoring.fusion`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vad.scoring.base import Scorer
from vad.scoring.fusion import fuse
from vad.scoring.normality.model import NormalityModel
from vad.scoring.velocity import VelocityModel
from vad.types import Frame, ScoreResult


class NormalityScorer(Scorer):
    """Scores a window with a camera's fitted models; needs context for flow and smoothing.

    Undecodable frames are skipped (the flow then spans the gap) and get NaN. The models keep no
    state between windows, so `state` is ignored and windows may be scored in any order.
    `notes["fired"]` names, per frame, the model whose calibrated score is the frame's.
    """

    name = "normality"

    def __init__(self, model: NormalityModel, velocity: VelocityModel | None = None) -> None:
        self.model = model
        self.velocity = velocity
        self.context_frames = max(
            model.context_frames, velocity.context_frames if velocity is not None else 0
        )

    def score(
        self,
        frames: Sequence[Frame],
        context: Sequence[Frame] = (),
        state: dict | None = None,
    ) -> ScoreResult:
        raw = np.full(len(frames), np.nan)
        terms = {"pixel": np.full(len(frames), np.nan)}
        if self.velocity is not None:
            terms["velocity"] = np.full(len(frames), np.nan)
        ok = [i for i, f in enumerate(frames) if f.image is not None]
        if ok:
            images = [frames[i].image for i in ok]
            ctx = [f.image for f in context if f.image is not None]
            raw[ok], terms["pixel"][ok] = self.model.score_frames(images, ctx)
            if self.velocity is not None:
                terms["velocity"][ok] = self.velocity.score_frames(images, ctx)[1]
        fused = fuse(terms, primary="pixel")
        return ScoreResult(
            scores=fused.scores,
            raw=raw,
            state=None,
            notes={
                "scorer": self.name,
                "context_used": sum(f.image is not None for f in context),
                "fired": fused.fired,
                "terms": terms,
            },
        )
