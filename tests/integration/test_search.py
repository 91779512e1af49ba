"""Incident search on a real PostgreSQL with the real MiniLM model and real text: 942 UCA sentences
(every other anomaly video of the UCA test split) stored as incident captions.

The queries and their expected neighbours below were written down before the search was first
run, by reading the corpus; they paraphrase one sentence (or one video's sentences) without
reusing its distinctive words, except the one full-text query."""

from __future__ import annotations

import functools
import inspect
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.searcher import Searcher
from api.tokens import create_token
from db.search import Filters, index_incident_text
from db.session import transaction
from tests.conftest import SHARED_DATA
from tests.support.requirements import missing
from tests.support.sentence_vectors import Memo, corpus_vectors
from vad.grounding import uca
from vad.text import SentenceEncoder, default_model_dir

# Embedding the 942 sentences with the NumPy MiniLM is CPU-bound: 556-600+ s at load average 8-10
# on the 2-core VM (two `yes` beside the suite and other jobs). Their vectors are kept on disk
# between runs (tests/support/sentence_vectors.py); the limit here covers a run with a cold cache
# on a loaded machine, not a hang.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

T0 = datetime(2026, 1, 1, tzinfo=UTC)
UCA = SHARED_DATA / "uca"

# query -> (acceptable "video#index" neighbours, how many top results may be looked at)
EXPECTED = {
    "someone set a car on fire and then rode away on a bike": ({"Arson025_x264#2"}, 3),
    "a vehicle blew up and burst into flames after striking a post": ({"Explosion014_x264#1"}, 3),
    "a dog attacked a child": ({"Burglary073_x264#4"}, 3),
    "a robber threatened shop customers with a pistol": ({"Robbery086_x264#3"}, 3),
    "a thief climbed in through an open window": ({"Burglary075_x264#5"}, 3),
    "firemen spraying water on a burning vehicle": (
        {"Arson025_x264#3", "Arson025_x264#5", "Arson025_x264#6", "Arson025_x264#8"},
        1,
    ),
}


def corpus() -> list[uca.Query]:
    if not uca.split_file(UCA, "Test").exists():
        missing(f"UCA annotations not found at {UCA}")
    videos = sorted(uca.load(uca.split_file(UCA, "Test")), key=lambda v: v.name)
    anomalous = [v for v in videos if not v.name.startswith("Normal")][::2]
    return [q for v in anomalous for q in v.queries]


def category(video: str) -> str:
    return "".join(c for c in video.split("_")[0] if c.isalpha()).lower()


@functools.cache
def cached_encoder() -> tuple[SentenceEncoder, Memo]:
    """One model and one embedding per text for the whole session (the suite runs this module
    once per Kafka broker; the PostgreSQL work is repeated, the embeddings are not)."""
    encoder = SentenceEncoder.load(default_model_dir())
    memo = Memo(encoder.embed)
    encoder.embed = memo  # type: ignore[method-assign]
    return encoder, memo


@functools.cache
def corpus_encoder() -> SentenceEncoder:
    """The session's encoder with the corpus's vectors in its memo, from the on-disk cache when
    it has them (tests/support/sentence_vectors.py), else embedded now and stored."""
    encoder, memo = cached_encoder()
    sentences = list(dict.fromkeys(q.sentence for q in corpus()))
    code_dir = Path(inspect.getfile(SentenceEncoder)).parent
    memo.remember(sentences, corpus_vectors(memo, default_model_dir(), code_dir, sentences))
    return encoder


@pytest.fixture
def searchable(request, infra, tmp_path):
    """Cameras per UCA category; one incident per sentence, its caption indexed like stage 2."""
    from db import camera_queries
    from db.models import Incident
    from tests.support.pipeline import database_only, make_pipeline

    database_only(request)
    pipeline = make_pipeline(infra, tmp_path)
    request.addfinalizer(pipeline.close)

    try:
        encoder = corpus_encoder()
    except Exception as error:  # noqa: BLE001 - TextModelError or missing package
        missing(f"sentence model unavailable: {error}")
    ids: dict[int, str] = {}
    with transaction(pipeline.sessions) as session:
        cameras: dict[str, int] = {}
        for n, q in enumerate(corpus()):
            name = category(q.video)
            if name not in cameras:
                cameras[name] = camera_queries.add_camera(
                    session, name, "rtsp://x/" + name, None, False
                ).id
            start = T0 + timedelta(minutes=n, seconds=q.start)
            incident = Incident(
                camera_id=cameras[name],
                status="closed",
                started_at=start,
                ended_at=start + timedelta(seconds=max(q.end - q.start, 1)),
                peak_score=0.9,
                peak_at=start,
                threshold=0.6,
                scorer="motion",
                first_window_seq=0,
                last_window_seq=0,
                key_frame=b"\xff\xd8jpeg" if n % 2 else None,
            )
            session.add(incident)
            session.flush()
            index_incident_text(session, incident.id, "caption", q.sentence)
            ids[incident.id] = f"{q.video}#{q.index}"
    searcher = Searcher(pipeline.settings)
    searcher._text = encoder
    with transaction(pipeline.sessions) as session:
        while searcher.index_pending(session, 500):
            pass
    return pipeline, searcher, ids


def run(pipeline, searcher, words: str, **filters):
    with transaction(pipeline.sessions) as session:
        return searcher.search(session, words, Filters(**filters), limit=10)


def test_paraphrases_find_their_sentence(searchable):
    pipeline, searcher, ids = searchable
    pending = "SELECT count(*) FROM incident_texts WHERE embedding IS NULL AND source = :s"
    assert pipeline.scalar(pending, s="caption") == 0  # descriptions: words only, never embedded
    assert pipeline.scalar(pending, s="description") == len(ids)
    failures = []
    for query, (expected, top) in EXPECTED.items():
        found = [ids[h.incident_id] for h in run(pipeline, searcher, query).incidents]
        print(f"{query!r}: {found[:5]}")
        if not expected & set(found[:top]):
            failures.append(
                f"{query!r}: expected one of {sorted(expected)} in top {top}, got {found[:5]}"
            )
    assert not failures, "\n".join(failures)


def test_full_text_and_filters(searchable):
    pipeline, searcher, ids = searchable
    hits = run(pipeline, searcher, "motorcycle").incidents
    assert sum("motorcycle" in h.body.lower() for h in hits[:5]) >= 4
    assert all(h.text_rank is not None for h in hits[:5] if "motorcycle" in h.body.lower())
    robbery = run(
        pipeline, searcher, "a man hit someone with the handle of a blade", camera="robbery"
    )
    assert robbery.incidents and {h.camera for h in robbery.incidents} == {"robbery"}
    top3 = {ids[h.incident_id] for h in robbery.incidents[:3]}
    assert top3 & {"Robbery088_x264#9", "Robbery088_x264#11"}
    late = run(pipeline, searcher, "explosion", since=T0 + timedelta(minutes=600)).incidents
    assert late and all(h.started_at >= T0 + timedelta(minutes=599) for h in late)


def add_giraffe(pipeline) -> int:
    some_id = 1
    with transaction(pipeline.sessions) as session:
        index_incident_text(session, some_id, "summary", "a giraffe walked through the lobby")
    return some_id


def test_changed_text_is_reembedded_and_description_comes_from_the_trigger(searchable):
    pipeline, searcher, ids = searchable
    body = pipeline.scalar(
        "SELECT body FROM incident_texts WHERE incident_id = 1 AND source = 'description'"
    )
    assert "Anomaly on camera" in body and "detected by motion" in body
    some_id = add_giraffe(pipeline)
    summary = (
        "SELECT embedding IS NULL FROM incident_texts WHERE incident_id = 1 AND source = 'summary'"
    )
    assert pipeline.scalar(summary)  # pending until embedded
    hits = run(pipeline, searcher, "giraffe").incidents  # words: found before and after embedding
    assert hits[0].incident_id == some_id and hits[0].text_rank == 1
    assert not pipeline.scalar(summary)  # the search embedded the pending text


@pytest.mark.xfail(
    strict=True,
    reason="written before the first run, and it failed: MiniLM puts 'tall animal with a long "
    "neck indoors' at cosine 0.19 to 'a giraffe walked through the lobby' (under the 0.2 "
    "min_similarity) and at 0.44 to 'The big dog chased after him...', which ranks first",
)
def test_paraphrase_of_an_added_summary(searchable):
    pipeline, searcher, ids = searchable
    some_id = add_giraffe(pipeline)
    hits = run(pipeline, searcher, "tall animal with a long neck indoors").incidents
    assert hits[0].incident_id == some_id


def test_api_search(searchable):
    pipeline, searcher, ids = searchable
    with transaction(pipeline.sessions) as session:
        token = create_token(session, "viewer", "read")
    app = create_app(pipeline.settings, pipeline.sessions)
    app.state.searcher = searcher
    client = TestClient(app)
    assert client.get("/search", params={"q": "fire"}).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    response = client.get(
        "/search", params={"q": "a dog attacked a child", "limit": 3}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["moments_available"] is False and body["moments"] == []
    top = body["incidents"][0]
    assert ids[top["incident_id"]] == "Burglary073_x264#4"
    assert top["camera"] == "burglary" and top["started_at"]
    expected_url = f"/incidents/{top['incident_id']}/key-frame.jpg"
    assert top["key_frame_url"] in (expected_url, None)
    assert client.get("/search", params={"q": " "}, headers=auth).status_code == 422
    assert "/search" in client.get("/openapi.json", headers=auth).json()["paths"]


def test_cli_search_and_index(searchable):
    pipeline, searcher, ids = searchable
    with transaction(pipeline.sessions) as session:
        index_incident_text(session, 2, "summary", "the dog ran away")
    indexed = pipeline.vad("search-index")
    assert indexed.returncode == 0, indexed.stderr
    assert "embedded 1 incident texts" in indexed.stdout
    done = pipeline.vad("search", "a dog attacked a child", "--camera", "burglary", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert ids[result["incidents"][0]["incident_id"]] == "Burglary073_x264#4"
    assert {h["camera"] for h in result["incidents"]} == {"burglary"}
    assert result["moments_available"] is False
    text = pipeline.vad("search", "a dog attacked a child", "--limit", "2")
    assert text.returncode == 0 and text.stdout.count("#") >= 2, text.stdout
