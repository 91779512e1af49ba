"""The OpenAI-compatible backends against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from service.settings import Settings
from tests.support.chat_server import ChatServer, has_image, prompt_text
from vad.stage2 import prompts
from vad.stage2.answers import parse_score
from vad.stage2.chain import WindowInput
from vad.stage2.loading import build_chain
from vad.stage2.openai_compat import ChatClient, EndpointError, EndpointLLM

CONTEXT = "University walkway: pedestrians only, no vehicles."


def canned(body: dict) -> tuple[int, str]:
    text = prompt_text(body)
    if has_image(body):
        return 200, "A person rides a bicycle among pedestrians."
    if "response_format" in body:
        return 200, '{"score": 0.8}'
    if "Summary:" in text:
        return 200, "A cyclist rides through a crowd of walking pedestrians."
    if "Explanation:" in text:
        return 200, "A bicycle on a pedestrian-only walkway is unusual. It moves fast."
    return 200, "?"


def endpoint_settings(url: str, tmp_path) -> Settings:
    return Settings(
        _env_file=None,
        model_dir=tmp_path,
        stage2={
            "captioner_url": url,
            "captioner_model": "llava",
            "llm_url": url,
            "llm_model": "qwen",
            "api_key": "secret",
        },
    )


def test_chain_over_endpoints_on_ped2(ped2_frames, tmp_path):
    with ChatServer(canned) as server:
        chain = build_chain(endpoint_settings(server.url, tmp_path))
        assert chain.models() == {
            "captioner": "openai:llava",
            "llm": "openai:qwen",
            "encoder": None,
        }
        frames = ped2_frames[:3]
        result = chain.run(WindowInput(frames, [0.0, 0.5, 1.0], context=CONTEXT))
    assert result.captions_raw == ["A person rides a bicycle among pedestrians."] * 3
    assert "skipped: no CLIP" in result.cleaning
    assert result.score == 0.8 and result.answer == '{"score": 0.8}'
    assert result.explanation == "A bicycle on a pedestrian-only walkway is unusual."
    assert result.embedding_kind.startswith("bow")
    images = [r for r in server.requests if has_image(r["body"])]
    assert len(images) == 3 and all(r["body"]["model"] == "llava" for r in images)
    url = images[0]["body"]["messages"][0]["content"][1]["image_url"]["url"]
    jpeg = base64.b64decode(url.split(",", 1)[1])
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == frames[0].shape
    rating = next(r["body"] for r in server.requests if "response_format" in r["body"])
    enum = rating["response_format"]["json_schema"]["schema"]["properties"]["score"]["enum"]
    assert enum == [round(0.1 * i, 1) for i in range(11)]
    assert rating["temperature"] == 0
    assert all(r["headers"]["Authorization"] == "Bearer secret" for r in server.requests)
    dialogues = [r["body"]["messages"] for r in server.requests if not has_image(r["body"])]
    assert len(dialogues) == 3  # summary, rating, explanation: one growing dialogue
    assert all(d[0]["role"] == "system" and CONTEXT in d[0]["content"] for d in dialogues)
    assert all(b[: len(a)] == a for a, b in zip(dialogues, dialogues[1:], strict=False))
    explain = next(r["body"] for r in server.requests if "Explanation:" in prompt_text(r["body"]))
    assert explain["stop"] == list(prompts.SENTENCE_STOPS)  # the server stops at the sentence end


def test_server_without_json_schema_falls_back_and_garbage_is_marked(ped2_frames, tmp_path):
    def no_schema(body: dict) -> tuple[int, str]:
        if "response_format" in body:
            return 400, "response_format is not supported"
        if "Answer:" in prompt_text(body):
            return 200, "Probably around seven out of ten."
        return canned(body)

    with ChatServer(no_schema) as server:
        chain = build_chain(endpoint_settings(server.url, tmp_path))
        result = chain.run(WindowInput(ped2_frames[:2], [0.0, 1.0]))
        assert not chain.llm.constrained
    assert result.score is None
    assert result.score_error.startswith("not a single number")
    assert result.explanation  # still explained, without a rating


@pytest.mark.parametrize("answer", ["", "1.5", "-0.1", "0.75"])
def test_out_of_range_and_empty_endpoint_answers_are_rejected(answer, tmp_path):
    with ChatServer(lambda body: (200, answer)) as server:
        llm = EndpointLLM(ChatClient(server.url, "m", None, 5))
        raw = llm.choose("rate", ["0", "0.5", "1"])
    assert parse_score(raw, [0.0, 0.5, 1.0]).value is None


def test_unreachable_endpoint_raises_a_clear_error():
    client = ChatClient("http://127.0.0.1:9/v1", "m", None, 2)
    with pytest.raises(EndpointError, match="127.0.0.1:9"):
        client.complete("hello", 5)


def test_server_error_is_not_mistaken_for_an_answer():
    with ChatServer(lambda body: (500, "overloaded")) as server:
        llm = EndpointLLM(ChatClient(server.url, "m", None, 5))
        with pytest.raises(EndpointError) as caught:
            llm.choose("rate", ["0", "1"])
    assert caught.value.status == 500 and llm.constrained


def test_llama_cpp_servers_json_object_dialect_is_used_when_json_schema_is_refused():
    """llama-cpp-python's server refuses OpenAI's `json_schema` (a 500 naming the field) and
    takes `json_object` + `schema`; the accepted form is remembered."""
    seen = []

    def llama_cpp_like(body: dict) -> tuple[int, str]:
        kind = body.get("response_format", {}).get("type")
        seen.append(kind)
        if kind == "json_schema":
            return 500, "validation error: ('body', 'response_format', 'type') json_schema"
        return 200, '{"score": 0.5}'

    with ChatServer(llama_cpp_like) as server:
        llm = EndpointLLM(ChatClient(server.url, "m", None, 5))
        assert llm.choose("rate", ["0", "0.5", "1"]) == '{"score": 0.5}'
        assert llm.choose("rate", ["0", "0.5", "1"]) == '{"score": 0.5}'
    assert seen == ["json_schema", "json_object", "json_object"] and llm.constrained
