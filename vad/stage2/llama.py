"""llama.cpp for a GGUF LLM (`vad models pull smollm2-135m`): in process (`LlamaLLM`) or as
llama.cpp's own OpenAI-compatible server (`server_command`, started by `vad up`).

llama-cpp-python is an optional extra (`llm`) built from source: the stock build enables every
instruction set the build machine has (AVX-512, AMX) and dies with SIGILL on CPUs that advertise
less than they run, so `scripts/llama-setup.sh` builds it with an explicit, portable set once and
caches the wheel. Nothing here falls back silently: a missing package or model is reported with
the command that installs it.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from vad.stage2.backends import BackendUnavailable
from vad.stage2.prompts import Message

SETUP_HINT = (
    "install llama-cpp-python with `bash scripts/llama-setup.sh` (or `make llm`): it builds it "
    "once for this CPU and caches the wheel in ~/.cache/vad/wheels"
)
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


def llama_missing(server: bool = False) -> str | None:
    """Why llama.cpp (in process, or its server too) cannot run here, or None."""
    wanted = SERVER_MODULES if server else SERVER_MODULES[:1]
    absent = [m for m in wanted if importlib.util.find_spec(m) is None]
    if absent:
        return f"{', '.join(absent)} not installed: {SETUP_HINT}"
    return None


def gguf_file(model_dir: Path, name: str) -> Path | None:
    """The pulled GGUF of catalog entry `name` (None when empty or not an LLM entry); the path is
    returned whether or not it is pulled yet, so callers can say where it is missing."""
    if not name:
        return None
    from vad.encoders import registry
    from vad.encoders.runtime import ModelError

    try:
        entry = registry.resolve(name)
    except ModelError:
        return None
    if entry.kind != "llm":
        return None
    return registry.download_dir(model_dir, entry.name) / registry.weights_file(entry)


def pull_hint(name: str) -> str:
    return f"run `vad models pull {name}`"


def choice_grammar(choices: list[str]) -> str:
    """A GBNF grammar whose only sentences are the allowed answers."""
    return "root ::= " + " | ".join(json.dumps(c) for c in choices)


class LlamaLLM:
    """A GGUF chat model in this process; the GGUF's own chat template (ChatML for SmolLM2) wraps
    each dialogue, decoding is greedy, and `choose` is constrained by a grammar to the choices.

    llama.cpp keeps the tokens of the last call in its KV cache and evaluates only from the first
    token where the next prompt differs, so the dialogue's shared beginning is read once."""

    def __init__(self, path: Path, threads: int = 1, context: int = 2048) -> None:
        problem = llama_missing()
        if problem:
            raise BackendUnavailable(problem)
        if not path.is_file():
            raise BackendUnavailable(f"no GGUF model at {path}")
        from llama_cpp import Llama

        # n_threads_batch too: its default (every core) makes ggml's threads spin-wait on a
        # busy machine, measured 4x the CPU per prompt on 2 shared cores
        self.model = Llama(
            model_path=str(path),
            n_ctx=context,
            n_threads=threads,
            n_threads_batch=threads,
            seed=0,
            verbose=False,
        )
        self.name = f"llama.cpp:{path.stem}"
        self.tokens = 0  # generated, for tokens/s
        self.seconds = 0.0
        self.cpu_seconds = 0.0  # this process's CPU time while generating (a busy machine
        # stretches the wall time, not this)

    def _chat(self, dialogue: Sequence[Message], max_tokens: int, **extra) -> str:
        started, cpu = time.perf_counter(), time.process_time()
        reply = self.model.create_chat_completion(
            messages=list(dialogue),
            max_tokens=max_tokens,
            temperature=0.0,
            **extra,
        )
        self.seconds += time.perf_counter() - started
        self.cpu_seconds += time.process_time() - cpu
        self.tokens += int(reply.get("usage", {}).get("completion_tokens", 0))
        return str(reply["choices"][0]["message"].get("content") or "").strip()

    def generate(
        self, dialogue: Sequence[Message], max_tokens: int, stop: Sequence[str] = ()
    ) -> str:
        return self._chat(dialogue, max_tokens, stop=list(stop))

    def choose(self, dialogue: Sequence[Message], choices: list[str]) -> str:
        from llama_cpp import LlamaGrammar

        grammar = LlamaGrammar.from_string(choice_grammar(choices), verbose=False)
        return self._chat(dialogue, 8, grammar=grammar)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_command(
    path: Path, port: int, alias: str, threads: int = 1, context: int = 2048
) -> list[str]:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1 serving `path` as model `alias`."""
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(path),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--n_ctx",
        str(context),
    ]


def server_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1"


def wait_until_ready(url: str, timeout: float, alive=lambda: True) -> bool:
    """Poll `{url}/models` until the server answers (True) or `timeout` passes / the process dies
    (False): the model loads before the port serves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/models", timeout=2) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    return False
