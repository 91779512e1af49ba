"""A small synthetic grounding set in the real UCA format.

Spans, durations and sentences are real (the shortest videos of the UCA files); the embeddings
are made up, with a known structure: a slowly drifting scene, and inside every annotated span the
sentence's text vector seen through a fixed "modality gap" matrix M (mostly a rotation) plus noise.
Raw cosine similarity (training-free grounding) only sees the small identity part of M; a trained
head can learn M. That is the point the test makes, and all it can make: these are not real CLIP
features.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from vad.grounding import uca
from vad.grounding.data import write_footage, write_texts

DIM = 32
FPS = 1.0


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _text_vector(sentence: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(sentence.encode()).digest()[:8], "little")
    return _unit(np.random.default_rng(seed).standard_normal(DIM))


def _modality_gap(rng: np.random.Generator, direct: float) -> np.ndarray:
    rotation, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
    return direct * np.eye(DIM) + (1 - direct) * rotation


def _footage(video: uca.Video, gap: np.ndarray, rng: np.random.Generator, signal: float):
    times = np.arange(0.0, video.duration, 1.0 / FPS)
    drift = np.cumsum(rng.standard_normal((times.size, DIM)) * 0.15, axis=0)
    frames = _unit(rng.standard_normal(DIM))[None] + drift + rng.standard_normal(drift.shape) * 0.3
    frames = _unit(frames) * 1.0
    for q in video.queries:
        inside = (times + 1.0 / FPS > q.start) & (times < q.end)
        frames[inside] += signal * (gap @ _text_vector(q.sentence))
    return _unit(frames).astype(np.float32), times


def _pick(videos: list[uca.Video], count: int, max_seconds: float) -> list[uca.Video]:
    short = [v for v in videos if v.duration <= max_seconds and v.queries]
    return sorted(short, key=lambda v: v.name)[:count]


def write_synthetic_set(
    uca_dir: Path,
    out: Path,
    train_videos: int = 120,
    test_videos: int = 40,
    max_seconds: float = 120.0,
    seed: int = 0,
    signal: float = 0.8,
    direct: float = 0.25,
) -> tuple[Path, Path]:
    """Writes `out/uca/UCFCrime_{Train,Test}.json` (subsets of the real ones) and
    `out/embeddings/` (one `<video>.npz` per video + `texts.npz`); returns both folders."""
    rng = np.random.default_rng(seed)
    gap = _modality_gap(rng, direct)
    uca_out, emb_out = Path(out) / "uca", Path(out) / "embeddings"
    uca_out.mkdir(parents=True, exist_ok=True)
    emb_out.mkdir(parents=True, exist_ok=True)
    sentences: dict[str, np.ndarray] = {}
    for split, count in (("Train", train_videos), ("Test", test_videos)):
        chosen = _pick(uca.load(uca.split_file(uca_dir, split)), count, max_seconds)
        source = json.loads(uca.split_file(uca_dir, split).read_text())
        subset = {v.name: source[v.name] for v in chosen}
        uca.split_file(uca_out, split).write_text(json.dumps(subset))
        for video in chosen:
            write_footage(emb_out, video.name, *_footage(video, gap, rng, signal))
            sentences.update({q.sentence: _text_vector(q.sentence) for q in video.queries})
    names = sorted(sentences)
    write_texts(emb_out, names, np.stack([sentences[n] for n in names]).astype(np.float32))
    return uca_out, emb_out
