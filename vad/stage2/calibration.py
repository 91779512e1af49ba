"""Collect what an LLM says about normal footage (the input of `vad.stage2.weight`): cut normal
clips into the pipeline's windows, describe each from the detector's tracks against the camera's
scene norms, run the stage-2 chain and keep its rating. Used by `vad stage2 calibrate` and by
`vad eval stage2` (fitted on the training clips there), so both apply the same rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from vad.stage2.chain import Stage2Chain, WindowInput
from vad.stage2.scene import SceneNorms, describe_window

Progress = Callable[[str, int, int], None]


def spread_windows(lengths: Sequence[int], per_window: int, limit: int) -> list[tuple[int, int]]:
    """(clip, first frame) of at most `limit` whole windows spread evenly over the clips, so a
    calibration sees every part of the footage, not only its first minutes."""
    every = [
        (c, s) for c, n in enumerate(lengths) for s in range(0, n - per_window + 1, per_window)
    ]
    if len(every) <= limit:
        return every
    picks = np.linspace(0, len(every) - 1, limit).round().astype(int)
    return [every[i] for i in sorted(set(picks.tolist()))]


def rate_normal_windows(
    clips: Iterable[list[np.ndarray]],
    fps: float,
    per_window: int,
    norms: SceneNorms | None,
    detector,
    chain: Stage2Chain,
    limit: int,
    context: str | None = None,
    progress: Progress | None = None,
) -> list[float | None]:
    """The chain's rating of up to `limit` normal windows (None where it did not parse)."""
    tell = progress or (lambda *_: None)
    clips = list(clips)
    chosen = spread_windows([len(c) for c in clips], per_window, limit)
    ratings: list[float | None] = []
    for n, (clip, start) in enumerate(chosen):
        tell("normal windows rated", n, len(chosen))
        frames = clips[clip][start : start + per_window]
        times = [(start + i) / fps for i in range(len(frames))]
        scene = describe_window(detector.detect(frames), times, norms)
        ratings.append(chain.run(WindowInput([], [], context, [], scene)).score)
    return ratings
