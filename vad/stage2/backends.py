"""The two model roles of stage 2 and what every backend of them must offer.

Backends: `vad.stage2.hf` (transformers, in process, from the model folder) and
`vad.stage2.openai_compat` (an OpenAI-compatible server: vLLM, Ollama, llama.cpp server).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class BackendUnavailable(RuntimeError):
    """A captioner or LLM cannot be used; the message says what is missing and how to fix it."""


class Captioner(Protocol):
    name: str

    def caption(self, images: list[np.ndarray], prompt: str, max_tokens: int) -> list[str]:
        """One caption per BGR image."""
        ...


class LLM(Protocol):
    name: str

    def generate(self, prompt: str, max_tokens: int) -> str:
        """Free text (summary, explanation), deterministic decoding."""
        ...

    def choose(self, prompt: str, choices: list[str]) -> str:
        """The raw answer to a question whose answer must be one of `choices`; the backend
        constrains it as far as it can, the caller still parses it strictly."""
        ...
