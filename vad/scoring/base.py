"""The stage-1 scorer interface.

Kept deliberately small so that the motion baseline, the learned normality model and later
encoder-based scorers are interchangeable: frames in, one score per frame out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from vad.types import Frame, ScoreResult


class Scorer(ABC):
    """Scores the frames of one window of one camera.

    Windows of a camera may be scored out of order and more than once (retries), so a scorer must
    not depend on having seen the previous window. What it needs from the past comes in `context`:
    up to `context_frames` frames that precede `frames[0]` in the same camera's stream (oldest
    first; fewer at the start of a stream). `state` is an optional per-camera dictionary the
    pipeline persists between windows for slowly varying statistics (e.g. a running baseline);
    scorers that do not need it ignore it and return `state=None`.
    """

    name: str = "scorer"
    context_frames: int = 1

    @abstractmethod
    def score(
        self,
        frames: Sequence[Frame],
        context: Sequence[Frame] = (),
        state: dict | None = None,
    ) -> ScoreResult:
        """Return one score per frame of `frames` (NaN where `frame.ok` is false)."""
