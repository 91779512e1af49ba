"""Which stage-2 backends this installation has, and building the chain from settings.

`stage2_status` is cheap (no model is loaded): stage-1 workers and `vad up` use it to decide
whether to request analyses and start a stage-2 worker at all; its `hint` tells a user how to turn
stage 2 on. Without a captioner or an LLM stage 2 is simply off and stage 1 works as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from vad.encoders.registry import export_dir
from vad.encoders.runtime import fix_hint
from vad.settings import CoreSettings
from vad.stage2.backends import BackendUnavailable
from vad.stage2.chain import Stage2Chain
from vad.stage2.hf import model_folder_problem, transformers_missing
from vad.stage2.llama import gguf_file, llama_missing, pull_hint
from vad.stage2.scene import SCENE_PREFIX, SceneSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stage2Status:
    enabled: bool
    captioner: str  # what would be used, e.g. "openai:llava @ http://..." or a folder
    llm: str
    reason: str | None  # why it is off
    hint: str  # how to turn it on (empty when on)

    def describe(self) -> str:
        if self.enabled:
            return f"on (captioner {self.captioner}; LLM {self.llm})"
        return f"off: {self.reason}. {self.hint}"


def _folder(settings: CoreSettings, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else settings.model_dir.resolve() / path


def _role(settings: CoreSettings, url: str | None, model: str) -> tuple[str, str | None]:
    """(description, problem or None) of one role."""
    if url:
        return f"openai:{model} @ {url}", None
    folder = _folder(settings, model)
    problem = model_folder_problem(folder) or transformers_missing()
    return f"transformers:{folder}", problem


def _llm_role(settings: CoreSettings) -> tuple[str, str | None]:
    """An endpoint, else a transformers folder, else the pulled GGUF run by llama.cpp."""
    cfg = settings.stage2
    folder = _folder(settings, cfg.llm_model)
    gguf = gguf_file(settings.model_dir.resolve(), cfg.llm_gguf)
    if cfg.llm_url or model_folder_problem(folder) is None or gguf is None:
        return _role(settings, cfg.llm_url, cfg.llm_model)
    if not gguf.is_file():
        return f"llama.cpp:{gguf}", (
            f"no transformers model at {folder} and {cfg.llm_gguf} not pulled ({gguf} missing): "
            f"{pull_hint(cfg.llm_gguf)}"
        )
    return f"llama.cpp:{gguf}", llama_missing()


def _captioner_role(settings: CoreSettings) -> tuple[str, str | None]:
    """An endpoint, else a transformers folder, else scene descriptions from the detector."""
    cfg = settings.stage2
    folder = _folder(settings, cfg.captioner_model)
    if cfg.captioner_url or model_folder_problem(folder) is None:
        return _role(settings, cfg.captioner_url, cfg.captioner_model)
    detector = settings.encoders.detector
    if (export_dir(settings.model_dir.resolve(), detector) / "manifest.json").is_file():
        return f"{SCENE_PREFIX}{detector}", None
    return f"transformers:{folder}", (
        f"no captioner at {folder} and no detector for scene descriptions "
        f"({detector} not installed; {fix_hint(detector)})"
    )


def stage2_status(settings: CoreSettings) -> Stage2Status:
    cfg = settings.stage2
    captioner, cap_problem = _captioner_role(settings)
    llm, llm_problem = _llm_role(settings)
    hint = (
        "To enable it, point VAD_STAGE2__CAPTIONER_URL / VAD_STAGE2__LLM_URL at an "
        "OpenAI-compatible server (vLLM, Ollama, llama.cpp) with VAD_STAGE2__CAPTIONER_MODEL / "
        "VAD_STAGE2__LLM_MODEL naming its models, or save transformers models (save_pretrained) "
        f"to {_folder(settings, cfg.captioner_model)} and {_folder(settings, cfg.llm_model)}; "
        f"without a captioner the detector's scene descriptions are used, and without an LLM "
        f"`vad models pull smollm2-135m` + `bash scripts/llama-setup.sh` give one"
    )
    if not cfg.enabled:
        return Stage2Status(False, captioner, llm, "disabled (VAD_STAGE2__ENABLED=false)", hint)
    problems = [f"captioner: {cap_problem}"] if cap_problem else []
    problems += [f"LLM: {llm_problem}"] if llm_problem else []
    if problems:
        return Stage2Status(False, captioner, llm, "; ".join(problems), hint)
    return Stage2Status(True, captioner, llm, None, "")


def build_chain(settings: CoreSettings) -> Stage2Chain:
    """Load the backends (raises BackendUnavailable with the status text when off)."""
    status = stage2_status(settings)
    if not status.enabled:
        raise BackendUnavailable(f"stage 2 is {status.describe()}")
    cfg = settings.stage2
    return Stage2Chain(
        _captioner(settings, status), _llm(settings, status), cfg, load_clip(settings)
    )


def _captioner(settings: CoreSettings, status: Stage2Status):
    """The captioner, or a `SceneSource` placeholder: the worker builds the window's captions
    from the detector's tracks instead (`vad.stage2.scene`)."""
    cfg = settings.stage2
    if status.captioner.startswith(SCENE_PREFIX):
        return SceneSource(status.captioner)
    if cfg.captioner_url:
        from vad.stage2.openai_compat import ChatClient, EndpointCaptioner

        client = ChatClient(
            cfg.captioner_url, cfg.captioner_model, cfg.api_key, cfg.timeout_seconds
        )
        return EndpointCaptioner(client)
    from vad.stage2.hf import TransformersCaptioner

    return TransformersCaptioner(_folder(settings, cfg.captioner_model))


def build_llm(settings: CoreSettings):
    """The LLM alone (`vad eval stage2`: captions are scene descriptions); raises
    BackendUnavailable saying what is missing and how to get it."""
    status = stage2_status(settings)
    llm_problem = _llm_role(settings)[1]
    if llm_problem:
        raise BackendUnavailable(f"no stage-2 LLM: {llm_problem}")
    return _llm(settings, status)


def _llm(settings: CoreSettings, status: Stage2Status):
    cfg = settings.stage2
    if cfg.llm_url:
        from vad.stage2.openai_compat import ChatClient, EndpointLLM

        return EndpointLLM(ChatClient(cfg.llm_url, cfg.llm_model, cfg.api_key, cfg.timeout_seconds))
    if status.llm.startswith("llama.cpp:"):
        from vad.stage2.llama import LlamaLLM

        path = Path(status.llm.removeprefix("llama.cpp:"))
        return LlamaLLM(path, cfg.llm_threads, cfg.llm_context)
    from vad.stage2.hf import TransformersLLM

    return TransformersLLM(_folder(settings, cfg.llm_model))


def load_clip(settings: CoreSettings):
    """The CLIP encoder for caption cleaning, or None (cleaning is then skipped and recorded)."""
    name = settings.stage2.clip_model
    folder = _folder(settings, name or f"encoders/{settings.encoders.clip}")
    if not (folder / "manifest.json").is_file():
        log.info("no CLIP encoder at %s: stage-2 captions are not cleaned", folder)
        return None
    try:
        from vad.encoders.clip import ClipEncoder

        providers = list(settings.encoders.providers) or None
        return ClipEncoder.load(folder, providers=providers)
    except Exception as error:  # noqa: BLE001 - a broken encoder must not take stage 2 down
        log.warning("CLIP encoder at %s unusable (%s): captions are not cleaned", folder, error)
        return None
