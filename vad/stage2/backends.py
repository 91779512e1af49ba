"""The two model roles of stage 2 and what every backend of them must offer.

Backends: `vad.stage2.hf` (transformers, in process, from the model folder) and
`vad.stage2.openai_compat` (an OpenAI-compatible server: vLLM, Ollama, llama.cpp server).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from vad.stage2.prompts import Message


class BackendUnavailable(RuntimeError):
    """A captioner or LLM cannot be used; the message says what is missing and how to fix it."""


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the first of the `stop` strings, which is left out: for a backend whose
    generation stops after a stop string (transformers keeps it), as `LLM.generate` promises."""
    ends = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(ends)] if ends else text


class Captioner(Protocol):
    name: str

    def caption(self, images: list[np.ndarray], prompt: str, max_tokens: int) -> list[str]:
        """One caption per BGR image."""
        ...


class LLM(Protocol):
    """Every call is a whole chat dialogue (`vad.stage2.prompts`): the calls of one window share
    their beginning, which a backend with a prompt cache reads only once."""

    name: str

    def generate(
        self, dialogue: Sequence[Message], max_tokens: int, stop: Sequence[str] = ()
    ) -> str:
        """The next assistant turn as free text (summary, explanation), deterministic. It ends
        before the first of the `stop` strings the text would contain (left out, as the OpenAI
        API's `stop`): every token generated costs CPU, so the caller stops the model where it
        would cut the answer anyway, e.g. at the end of a one-sentence explanation."""
        ...

    def choose(self, dialogue: Sequence[Message], choices: list[str]) -> str:
        """The raw answer to a question whose answer must be one of `choices`; the backend
        constrains it as far as it can, the caller still parses it strictly."""
        ...
