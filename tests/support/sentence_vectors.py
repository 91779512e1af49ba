"""A fixed test corpus's sentence vectors, kept on disk between test runs.

Embedding the 942 UCA sentences of tests/integration/test_search.py with the NumPy MiniLM was the
slowest setup of the suite (about 200 s of CPU; 9 to 13 minutes on the loaded 2-core VM) and
gives the same vectors on every run. They are kept in the test cache CI keeps between runs
(`~/.cache/vad`, beside the pulled models, Kafka jars and wheels), in one file per key. The key
changes with anything that could change a vector: the sha256 of the model's files (weights,
tokenizer, config), of the embedding code (every source file of `vad/text`), the versions of the
libraries the vectors are computed with (numpy, scipy, tokenizers) and the sentences themselves.
A missing, damaged or foreign file is a miss: the vectors are computed as without a cache, then
stored. A hit is checked against a few sentences embedded now, so a cache the key cannot tell
apart (another machine's arithmetic, a bug here) is a miss too, not a silent difference.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np

from tests.support.real_models import vad_cache
from vad.text.minilm import FILES

FORMAT = 1  # the file layout below; bump when it changes
LIBRARIES = ("numpy", "scipy", "tokenizers")
SPOT_CHECK = 8  # sentences re-embedded on a hit
TOLERANCE = 1e-5  # on unit vectors: batch padding changes the last bits only

Embed = Callable[[list[str]], np.ndarray]


def cache_folder() -> Path:
    return vad_cache() / "sentence-vectors"


def _sha256_of_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cache_key(model_dir: Path, code_dir: Path, texts: list[str]) -> dict[str, str]:
    """What the vectors depend on, each part readable in the stored file."""
    return {
        "format": str(FORMAT),
        "model_sha256": _sha256_of_files([model_dir / name for name in FILES]),
        "code_sha256": _sha256_of_files(sorted(code_dir.glob("*.py"))),
        "libraries": " ".join(f"{name}=={version(name)}" for name in LIBRARIES),
        "texts_sha256": hashlib.sha256(json.dumps(texts).encode()).hexdigest(),
    }


def cache_file(key: dict[str, str]) -> Path:
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return cache_folder() / f"{name}.npz"


def _load(path: Path, key: dict[str, str], texts: list[str]) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            same = json.loads(str(stored["key"])) == key and stored["texts"].tolist() == texts
            vectors = stored["vectors"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # absent, cut, not ours
        return None
    if not same or vectors.shape[0] != len(texts) or not np.isfinite(vectors).all():
        return None
    return vectors


def _save(path: Path, key: dict[str, str], texts: list[str], vectors: np.ndarray) -> None:
    """Written beside, then renamed: a run stopped mid-write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, key=json.dumps(key), texts=np.array(texts), vectors=vectors)
    os.replace(partial, path)


class Memo:
    """`embed` computed once per text for the test session. Kept batch by batch: a setup stopped
    by its time limit leaves the work done to the next test."""

    def __init__(self, embed: Embed, batch: int = 64):
        self.embed = embed
        self.batch = batch
        self.vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        for start in range(0, len(todo), self.batch):
            batch = todo[start : start + self.batch]
            self.vectors.update(zip(batch, self.embed(batch), strict=True))
        return np.stack([self.vectors[t] for t in texts])

    def remember(self, texts: list[str], vectors: np.ndarray) -> None:
        self.vectors.update(zip(texts, vectors, strict=True))


def corpus_vectors(embed: Embed, model_dir: Path, code_dir: Path, texts: list[str]) -> np.ndarray:
    """`embed(texts)` (unique texts), from the cache when its key and a spot check agree."""
    key = cache_key(model_dir, code_dir, texts)
    path = cache_file(key)
    vectors = _load(path, key, texts)
    if vectors is not None:
        spot = embed(texts[:SPOT_CHECK])
        if np.allclose(spot, vectors[:SPOT_CHECK], rtol=0, atol=TOLERANCE):
            return vectors
        warnings.warn(
            f"{path}: differs from the vectors computed now; embedding again", stacklevel=2
        )
    vectors = embed(texts)
    _save(path, key, texts, vectors)
    return vectors
