"""Temporal grounding: which moments of stored footage match a sentence.

`tfvtg` is training-free (CLIP similarity curves); `head` is a small trained head over the same
frozen embeddings, run in numpy; `uca` reads the UCA annotation format used to train and evaluate
it.
"""

from vad.grounding.tfvtg import Moment, ground, ground_curve, similarity

__all__ = ["Moment", "ground", "ground_curve", "similarity"]
