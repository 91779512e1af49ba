"""The on-disk cache of test_search's corpus vectors (tests/support/sentence_vectors.py): a warm
cache gives exactly the cold run's vectors; a changed model, code or corpus, a damaged file or
vectors that no longer match the model are misses, embedded again.

The cache does not look inside the model: a stand-in model (three files) and a stand-in `embed`
(a fixed unit vector per text) keep this test fast; tests/integration/test_search.py runs the
cache with the real MiniLM."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tests.support import sentence_vectors
from vad.text.minilm import FILES

SENTENCES = [f"sentence number {n}" for n in range(20)]


class Embed:
    """A unit vector per text (from its hash), counting the texts it was asked for."""

    def __init__(self):
        self.texts = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:4]) for t in texts]
        vectors = np.stack([np.random.default_rng(s).normal(size=16) for s in seeds])
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "vad" / "sentence-vectors"


@pytest.fixture
def model_dir(tmp_path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes(name.encode() * 100)
    return folder


@pytest.fixture
def code_dir(tmp_path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "minilm.py").write_text("def embed(texts): ...\n")
    return folder


def test_a_warm_cache_gives_the_cold_runs_vectors(cache, model_dir, code_dir) -> None:
    cold_embed = Embed()
    cold = sentence_vectors.corpus_vectors(cold_embed, model_dir, code_dir, SENTENCES)
    assert cold_embed.texts == len(SENTENCES) and len(list(cache.glob("*.npz"))) == 1
    assert np.array_equal(cold, Embed()(SENTENCES))

    warm_embed = Embed()
    warm = sentence_vectors.corpus_vectors(warm_embed, model_dir, code_dir, SENTENCES)
    assert np.array_equal(warm, cold) and warm.dtype == np.float32
    assert warm_embed.texts == sentence_vectors.SPOT_CHECK  # the spot check only


def test_a_changed_model_code_or_corpus_misses(cache, model_dir, code_dir) -> None:
    sentence_vectors.corpus_vectors(Embed(), model_dir, code_dir, SENTENCES)
    for change in (
        lambda: (model_dir / "model.safetensors").write_bytes(b"other weights"),
        lambda: (code_dir / "minilm.py").write_text("def embed(texts): return 2\n"),
        lambda: (code_dir / "new_module.py").write_text(""),
    ):
        change()
        embed = Embed()
        sentence_vectors.corpus_vectors(embed, model_dir, code_dir, SENTENCES)
        assert embed.texts == len(SENTENCES)
    embed = Embed()
    sentence_vectors.corpus_vectors(embed, model_dir, code_dir, SENTENCES[:-1])
    assert embed.texts == len(SENTENCES) - 1
    assert len(list(cache.glob("*.npz"))) == 5


def test_a_damaged_or_wrong_file_is_embedded_again(cache, model_dir, code_dir) -> None:
    cold = sentence_vectors.corpus_vectors(Embed(), model_dir, code_dir, SENTENCES)
    (path,) = cache.glob("*.npz")
    path.write_bytes(path.read_bytes()[:100])  # cut short
    embed = Embed()
    again = sentence_vectors.corpus_vectors(embed, model_dir, code_dir, SENTENCES)
    assert embed.texts == len(SENTENCES) and np.array_equal(again, cold)

    key = sentence_vectors.cache_key(model_dir, code_dir, SENTENCES)
    sentence_vectors._save(path, key, SENTENCES, -cold)  # the key matches, the vectors do not
    embed = Embed()
    with pytest.warns(UserWarning, match="differs from the vectors computed now"):
        fixed = sentence_vectors.corpus_vectors(embed, model_dir, code_dir, SENTENCES)
    assert embed.texts == sentence_vectors.SPOT_CHECK + len(SENTENCES)
    assert np.array_equal(fixed, cold)
    embed = Embed()  # the file was rewritten with the right vectors
    assert np.array_equal(
        sentence_vectors.corpus_vectors(embed, model_dir, code_dir, SENTENCES), cold
    )
    assert embed.texts == sentence_vectors.SPOT_CHECK
    assert not list(cache.glob("*.partial.npz"))
