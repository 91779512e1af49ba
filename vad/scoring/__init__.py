"""Stage-1 scorers: one score in [0, 1] per frame."""

from vad.scoring.base import Scorer

__all__ = ["Scorer"]
