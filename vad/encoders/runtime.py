"""ONNX Runtime sessions: provider choice, TensorRT engine cache, clear load errors.

One place decides how every encoder runs, so swapping hardware is configuration, not code.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import onnxruntime as ort

log = logging.getLogger(__name__)

PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)
MANIFEST = "manifest.json"
TRT_CACHE = "trt-cache"


class ModelError(RuntimeError):
    """A model cannot be used; the message says why and what command fixes it."""


class ModelNotInstalled(ModelError):
    pass


class ModelCorrupt(ModelError):
    pass


def fix_hint(name: str) -> str:
    return f"run `vad models pull {name} && vad models export {name}`"


def pick_providers(requested: list[str] | None = None) -> list[str]:
    """TensorRT > CUDA > CPU among what this onnxruntime build offers (or the requested subset,
    in the requested order). CPU is always last so a session can fall back."""
    available = set(ort.get_available_providers())
    wanted = list(requested) if requested else list(PREFERRED_PROVIDERS)
    chosen = [p for p in wanted if p in available]
    unknown = [p for p in wanted if p not in available]
    if requested and unknown:
        log.warning("providers %s not available in this onnxruntime build", unknown)
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def _provider_options(providers: list[str], model_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """TensorRT builds engines once and caches them next to the model they belong to."""
    out: list[tuple[str, dict[str, Any]]] = []
    for provider in providers:
        if provider == "TensorrtExecutionProvider":
            cache = model_dir / TRT_CACHE
            cache.mkdir(parents=True, exist_ok=True)
            out.append(
                (
                    provider,
                    {
                        "trt_engine_cache_enable": True,
                        "trt_engine_cache_path": str(cache),
                        "trt_fp16_enable": True,
                    },
                )
            )
        else:
            out.append((provider, {}))
    return out


def open_session(
    path: Path, name: str, providers: list[str] | None = None, threads: int = 0
) -> ort.InferenceSession:
    """An inference session on `path`, or a ModelError that names the file and the fix."""
    if not path.is_file():
        raise ModelNotInstalled(f"model {name!r}: {path} is missing; {fix_hint(name)}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    chosen = pick_providers(providers)
    names = [p for p, _ in _provider_options(chosen, path.parent)]
    opts = [o for _, o in _provider_options(chosen, path.parent)]
    try:
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=names, provider_options=opts
        )
    except Exception as error:  # noqa: BLE001 - ORT raises several types for a bad file
        raise ModelCorrupt(
            f"model {name!r}: cannot load {path} ({type(error).__name__}: "
            f"{str(error).strip()[:300]}); re-export it with `vad models export {name}`"
        ) from error
    log.info("model %s: %s runs on %s", name, path.name, session.get_providers())
    return session


def read_manifest(model_dir: Path, name: str | None = None) -> dict:
    """The manifest an export wrote; everything preprocessing needs comes from it."""
    name = name or model_dir.name
    path = model_dir / MANIFEST
    if not model_dir.is_dir():
        raise ModelNotInstalled(
            f"model {name!r} is not installed ({model_dir} missing); {fix_hint(name)}"
        )
    if not path.is_file():
        raise ModelNotInstalled(
            f"model {name!r}: {path} missing (export incomplete?); {fix_hint(name)}"
        )
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ModelCorrupt(
            f"model {name!r}: unreadable {path} ({error}); "
            f"re-export it with `vad models export {name}`"
        ) from error
