"""Image-text similarity for caption cleaning, text similarity for score refinement.

Cleaning (LAVAD): a captioner sees one frame at a time and sometimes describes noise; each frame
instead takes the caption, among its window's and the neighbouring windows' captions, whose text
embedding is closest to the frame's image embedding (CLIP).

Refinement (LAVAD): a window's score is averaged with the scores of the camera's most similar
earlier summaries, weighted by similarity, which smooths one-off misjudgements of the LLM. Summaries
are compared with CLIP's text tower when installed, else with a hashed bag of words (recorded as
the embedding kind; only summaries of the same kind are compared).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

BOW_DIM = 512
_WORD = re.compile(r"[a-z0-9]+")


class ImageTextEncoder(Protocol):
    name: str

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray: ...

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class Cleaned:
    captions: list[str]
    note: str  # how they were cleaned, or why not


def clean_captions(
    images: list[np.ndarray],
    captions: list[str],
    neighbours: Sequence[str],
    encoder: ImageTextEncoder | None,
) -> Cleaned:
    """Each frame's caption replaced by the pool caption most similar to its image."""
    if encoder is None:
        return Cleaned(list(captions), "skipped: no CLIP encoder installed")
    pool = list(dict.fromkeys(c.strip() for c in [*captions, *neighbours] if c.strip()))
    if not pool or not images:
        return Cleaned(list(captions), "skipped: no captions to choose from")
    image_emb = _unit(encoder.embed_images(images))
    text_emb = _unit(encoder.embed_texts(pool))
    best = np.argmax(image_emb @ text_emb.T, axis=1)
    chosen = [pool[int(i)] for i in best]
    changed = sum(a.strip() != b for a, b in zip(captions, chosen, strict=True))
    return Cleaned(chosen, f"{encoder.name}: {changed}/{len(chosen)} replaced, pool {len(pool)}")


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class SummaryEmbedder:
    """Unit vectors for summaries: CLIP text embeddings, or a hashed bag of words."""

    def __init__(self, encoder: ImageTextEncoder | None) -> None:
        self.encoder = encoder
        self.kind = f"clip:{encoder.name}" if encoder is not None else f"bow-{BOW_DIM}"

    def embed(self, text: str) -> list[float]:
        if self.encoder is not None:
            return _unit(self.encoder.embed_texts([text]))[0].tolist()
        return bag_of_words(text).tolist()


def bag_of_words(text: str, dim: int = BOW_DIM) -> np.ndarray:
    vec = np.zeros(dim, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        vec[zlib.crc32(word.encode()) % dim] += 1.0
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec


@dataclass(frozen=True, slots=True)
class Refined:
    score: float | None
    neighbours: list[dict]  # [{"id": analysis id, "similarity": s, "score": v}]


def refine(
    own: float | None,
    embedding: Sequence[float],
    past: Sequence[tuple[int, Sequence[float], float]],
    k: int,
) -> Refined:
    """Similarity-weighted mean of the own score (weight 1: identical to itself) and the scores of
    the k most similar past summaries (weight = cosine similarity, only positive ones count).
    No own score, nothing refined: a refined score never exists without a parsed or filled one."""
    if own is None:
        return Refined(None, [])
    if k <= 0 or not past:
        return Refined(own, [])
    me = np.asarray(embedding, dtype=np.float32)
    sims = [(pid, float(np.dot(me, np.asarray(e, dtype=np.float32))), s) for pid, e, s in past]
    top = sorted((x for x in sims if x[1] > 0), key=lambda x: -x[1])[:k]
    weight = 1.0 + sum(s for _, s, _ in top)
    score = (own + sum(s * v for _, s, v in top)) / weight
    used = [{"id": pid, "similarity": round(s, 4), "score": v} for pid, s, v in top]
    return Refined(float(np.clip(score, 0.0, 1.0)), used)
