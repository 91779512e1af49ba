"""The normality model behind the stage-1 `Scorer` interface."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vad.scoring.base import Scorer
from vad.scoring.normality.model import NormalityModel
from vad.types import Frame, ScoreResult


class NormalityScorer(Scorer):
    """Scores a window with a fitted per-camera model; needs context for flow and smoothing.

    Undecodable frames are skipped (the flow then spans the gap) and get NaN. The model keeps no
    state between windows, so `state` is ignored and windows may be scored in any order.
    """

    name = "normality"

    def __init__(self, model: NormalityModel) -> None:
        self.model = model
        self.context_frames = model.context_frames

    def score(
        self,
        frames: Sequence[Frame],
        context: Sequence[Frame] = (),
        state: dict | None = None,
    ) -> ScoreResult:
        raw = np.full(len(frames), np.nan)
        calibrated = np.full(len(frames), np.nan)
        ok = [i for i, f in enumerate(frames) if f.image is not None]
        if ok:
            images = [frames[i].image for i in ok]
            ctx = [f.image for f in context if f.image is not None]
            r, c = self.model.score_frames(images, ctx)
            raw[ok], calibrated[ok] = r, c
        return ScoreResult(
            scores=calibrated,
            raw=raw,
            state=None,
            notes={"scorer": self.name, "context_used": sum(f.image is not None for f in context)},
        )
