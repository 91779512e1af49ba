"""OpenAI-compatible endpoint backends (vLLM, Ollama, llama.cpp server, hosted APIs), standard
library only: `POST {base}/chat/completions`, images as base64 JPEG data URLs.

Constrained answers use `response_format` with a JSON schema whose `score` is an enum of the
allowed values (vLLM, Ollama, llama.cpp and OpenAI honour it). A server that rejects the schema
(HTTP 400) is asked once more without it and remembered as unconstrained; either way the answer
is parsed strictly by the caller.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence

import cv2
import numpy as np

from vad.stage2.backends import BackendUnavailable
from vad.stage2.prompts import Message

log = logging.getLogger(__name__)


class EndpointError(RuntimeError):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


class ChatClient:
    """One OpenAI-compatible server and model."""

    def __init__(self, base_url: str, model: str, api_key: str | None, timeout: float) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise BackendUnavailable(f"endpoint URL must be http(s)://...: {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def complete(self, content: str | list, max_tokens: int, **extra) -> str:
        """One user message (text, or text and images)."""
        return self.chat([{"role": "user", "content": content}], max_tokens, **extra)

    def chat(self, messages: Sequence[dict], max_tokens: int, **extra) -> str:
        """The next assistant turn of a whole dialogue."""
        body = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": 0,
            **extra,
        }
        doc = self._post(body)
        try:
            message = doc["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as error:
            raise EndpointError(None, f"{self.url}: unexpected reply {str(doc)[:200]}") from error
        return str(message.get("content") or "").strip()

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode(errors="replace")
            raise EndpointError(error.code, f"{self.url}: HTTP {error.code} {detail}") from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise EndpointError(None, f"{self.url}: {error}") from error
        except ValueError as error:
            raise EndpointError(None, f"{self.url}: reply is not JSON") from error


def jpeg_data_url(image: np.ndarray, quality: int = 90) -> str:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cannot encode image as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.tobytes()).decode()


class EndpointCaptioner:
    """A vision chat model asked for one caption per image (one request each: the OpenAI API has
    no batch of images-with-separate-answers)."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.name = f"openai:{client.model}"

    def caption(self, images: list[np.ndarray], prompt: str, max_tokens: int) -> list[str]:
        return [self._one(image, prompt, max_tokens) for image in images]

    def _one(self, image: np.ndarray, prompt: str, max_tokens: int) -> str:
        content = [
            {"type": "text", "text": prompt},
            {"type": "image_url", "image_url": {"url": jpeg_data_url(image)}},
        ]
        return self.client.complete(content, max_tokens)


def score_schema(choices: list[str]) -> dict:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "rating",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"score": {"type": "number", "enum": [float(c) for c in choices]}},
                "required": ["score"],
                "additionalProperties": False,
            },
        },
    }


def json_object_schema(choices: list[str]) -> dict:
    """The same constraint in llama-cpp-python's server's dialect (`json_object` + `schema`):
    it rejects OpenAI's `json_schema` type."""
    schema = score_schema(choices)["json_schema"]["schema"]
    return {"type": "json_object", "schema": schema}


def _rejects_format(error: EndpointError) -> bool:
    """The server refused the request's `response_format` (400/422, or llama-cpp-python's
    validation error, which it reports as a 500 naming the field)."""
    if error.status in (400, 422):
        return True
    return error.status == 500 and "response_format" in str(error)


class EndpointLLM:
    """The dialogue is sent whole each call; servers with a prompt cache (llama.cpp's, in
    llama-cpp-python's server too; vLLM with prefix caching) read only the part that differs
    from their last request."""

    FORMATS = (score_schema, json_object_schema)

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.name = f"openai:{client.model}"
        self.constrained = True
        self._formats = list(self.FORMATS)  # the first that the server accepts is kept

    def generate(
        self, dialogue: Sequence[Message], max_tokens: int, stop: Sequence[str] = ()
    ) -> str:
        extra = {"stop": list(stop)} if stop else {}  # OpenAI allows up to 4 stop strings
        return self.client.chat(dialogue, max_tokens, **extra)

    def choose(self, dialogue: Sequence[Message], choices: list[str]) -> str:
        while self._formats:
            try:
                format_ = self._formats[0](choices)
                return self.client.chat(dialogue, 16, response_format=format_)
            except EndpointError as error:
                if not _rejects_format(error):
                    raise
                log.info("%s rejects %s answers (%s)", self, self._formats[0].__name__, error)
                self._formats.pop(0)
        if self.constrained:
            log.warning("%s accepts no JSON-schema answers: unconstrained", self)
            self.constrained = False
        return self.client.chat(dialogue, 16)

    def __str__(self) -> str:
        return self.name
