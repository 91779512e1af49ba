"""Embedding files that grounding trains and evaluates on.

A folder holds one `<video>.npz` per video with `embeddings` (T, D) float32 frame embeddings and
`timestamps` (T,) float seconds from the video start, plus `texts.npz` with `sentences` (N,) str and
`embeddings` (N, D): the text embeddings of annotation sentences in the same space (a cache; a
sentence missing there is encoded with the installed CLIP encoder when one is given).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vad.grounding.uca import Query, Video

TEXTS = "texts.npz"


@dataclass(frozen=True, slots=True)
class Footage:
    embeddings: np.ndarray
    timestamps: np.ndarray


@dataclass(frozen=True, slots=True)
class Sample:
    """One sentence of one video with everything grounding needs."""

    query: Query
    footage: Footage
    text: np.ndarray


def write_footage(folder: Path, video: str, embeddings: np.ndarray, timestamps: np.ndarray) -> Path:
    path = Path(folder) / f"{video}.npz"
    np.savez(path, embeddings=embeddings.astype(np.float32), timestamps=timestamps.astype(float))
    return path


def write_texts(folder: Path, sentences: list[str], embeddings: np.ndarray) -> Path:
    path = Path(folder) / TEXTS
    np.savez(path, sentences=np.array(sentences, dtype=str), embeddings=embeddings)
    return path


def read_footage(folder: Path, video: str) -> Footage | None:
    path = Path(folder) / f"{video}.npz"
    if not path.exists():
        return None
    with np.load(path) as data:
        embeddings = np.asarray(data["embeddings"], dtype=np.float32)
        timestamps = np.asarray(data["timestamps"], dtype=np.float64)
    if embeddings.ndim != 2 or timestamps.shape != (embeddings.shape[0],):
        raise ValueError(f"{path}: embeddings {embeddings.shape} vs timestamps {timestamps.shape}")
    return Footage(embeddings, timestamps)


def read_texts(folder: Path) -> dict[str, np.ndarray]:
    path = Path(folder) / TEXTS
    if not path.exists():
        return {}
    with np.load(path) as data:
        return dict(
            zip(data["sentences"].tolist(), np.asarray(data["embeddings"], np.float32), strict=True)
        )


TextEncoder = Callable[[list[str]], np.ndarray]


def samples(
    folder: Path, videos: list[Video], encode: TextEncoder | None = None
) -> tuple[list[Sample], int]:
    """Samples of the videos that have an embedding file, and how many videos had none."""
    texts = read_texts(folder)
    wanted = {q.sentence for v in videos for q in v.queries} - set(texts)
    if wanted and encode is None:
        raise ValueError(
            f"{len(wanted)} sentences have no embedding in {Path(folder) / TEXTS} and no text "
            "encoder is installed (`vad models export` a CLIP model)"
        )
    if wanted:
        ordered = sorted(wanted)
        texts.update(zip(ordered, encode(ordered), strict=True))
    found, absent = [], 0
    for video in videos:
        footage = read_footage(folder, video.name)
        if footage is None:
            absent += 1
            continue
        found += [Sample(q, footage, texts[q.sentence]) for q in video.queries]
    return found, absent
