"""The model folder: what can be pulled, what is installed, and what is missing for which stage.

Layout under `settings.model_dir` (`$VAD_MODEL_DIR`):

    downloads/<name>/      what `vad models pull` fetched (HF snapshot, or <file>.pt)
    encoders/<name>/       what `vad models export` wrote: manifest.json + ONNX files
        trt-cache/         TensorRT engines, built on first use on a GPU machine

Pulling and exporting are explicit commands: a worker never downloads anything.
"""

from __future__ import annotations

import json
import logging
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vad.encoders.runtime import MANIFEST, ModelError, fix_hint, pick_providers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A model `vad models pull` knows how to fetch."""

    name: str
    kind: str  # "clip" or "detector"
    source: str  # Hugging Face repo id, or the ultralytics asset file name
    note: str


CATALOG: dict[str, CatalogEntry] = {
    e.name: e
    for e in (
        CatalogEntry(
            "clip-vit-b32", "clip", "openai/clip-vit-base-patch32", "CLIP ViT-B/32, 512-d"
        ),
        CatalogEntry(
            "clip-vit-b16", "clip", "openai/clip-vit-base-patch16", "CLIP ViT-B/16, 512-d"
        ),
        CatalogEntry(
            "clip-vit-l14", "clip", "openai/clip-vit-large-patch14", "CLIP ViT-L/14, 768-d"
        ),
        CatalogEntry("yolo11n", "detector", "yolo11n.pt", "YOLO11 nano, COCO 80 classes"),
        CatalogEntry("yolo11s", "detector", "yolo11s.pt", "YOLO11 small, COCO 80 classes"),
    )
}
_HF_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model"]


def resolve(name: str) -> CatalogEntry:
    """A catalog name, or any Hugging Face CLIP-family repo given as `org/repo`."""
    if name in CATALOG:
        return CATALOG[name]
    if name.count("/") == 1:
        return CatalogEntry(name.replace("/", "--"), "clip", name, "Hugging Face repo")
    known = ", ".join(CATALOG)
    raise ModelError(f"unknown model {name!r}: use one of {known}, or a Hugging Face repo org/name")


def download_dir(model_dir: Path, name: str) -> Path:
    return Path(model_dir) / "downloads" / name


def export_dir(model_dir: Path, name: str) -> Path:
    return Path(model_dir) / "encoders" / name


def pull(
    entry: CatalogEntry,
    model_dir: Path,
    hub_endpoint: str | None = None,
    assets_url: str = "",
    timeout: float = 15.0,
) -> Path:
    """Download the weights of `entry` into downloads/<name>; fails at once when offline."""
    target = download_dir(model_dir, entry.name)
    fresh = not target.exists()
    try:
        if entry.kind == "clip":
            return _pull_hf(entry, target, hub_endpoint, timeout)
        return _pull_asset(entry, target, assets_url, timeout)
    except ModelError:
        if fresh:  # leave no empty folder that looks like a pulled model
            shutil.rmtree(target, ignore_errors=True)
        raise


def _pull_hf(entry: CatalogEntry, target: Path, endpoint: str | None, timeout: float) -> Path:
    try:
        from huggingface_hub import constants as hf_constants
        from huggingface_hub import snapshot_download
    except ImportError as error:
        raise ModelError(
            "pulling needs huggingface_hub: pip install 'vad-service[export]'"
        ) from error
    where = endpoint or hf_constants.ENDPOINT
    try:
        snapshot_download(
            entry.source,
            local_dir=target,
            allow_patterns=_HF_PATTERNS,
            endpoint=endpoint,
            etag_timeout=timeout,
        )
    except Exception as error:  # noqa: BLE001 - hub errors come in many types; all mean "no"
        raise ModelError(
            f"cannot download {entry.source} from {where}: {type(error).__name__}: "
            f"{str(error).splitlines()[0][:200] if str(error) else ''}. Is this machine offline? "
            f"Pull on a connected machine and copy {target} here, then `vad models export "
            f"{entry.name}`."
        ) from error
    return target


def _pull_asset(entry: CatalogEntry, target: Path, base: str, timeout: float) -> Path:
    url = f"{base.rstrip('/')}/{entry.source}"
    target.mkdir(parents=True, exist_ok=True)
    path = target / entry.source
    partial = path.with_suffix(".partial")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        partial.unlink(missing_ok=True)
        raise ModelError(
            f"cannot download {url}: {error}. Is this machine offline? Copy {entry.source} into "
            f"{target} from a connected machine, then `vad models export {entry.name}`."
        ) from error
    partial.rename(path)
    return target


def export(entry: CatalogEntry, model_dir: Path, detector_image_size: int = 640) -> Path:
    """Export downloads/<name> to encoders/<name> (needs the `export` extra)."""
    source = download_dir(model_dir, entry.name)
    if not source.exists():
        raise ModelError(f"{entry.name} is not pulled ({source} missing): {fix_hint(entry.name)}")
    try:
        from vad.encoders.export import export_clip, export_yolo
    except ImportError as error:
        raise ModelError(
            f"exporting needs torch/transformers/ultralytics: pip install 'vad-service[export]' "
            f"({error})"
        ) from error
    out = export_dir(model_dir, entry.name)
    if entry.kind == "clip":
        return export_clip(source, out, name=entry.name)
    return export_yolo(source / entry.source, out, name=entry.name, image_size=detector_image_size)


@dataclass(frozen=True, slots=True)
class InstalledModel:
    name: str
    kind: str
    path: Path
    manifest: dict

    def input_size(self) -> str:
        size = self.manifest.get("image_size")
        return f"{size}x{size}" if size else "?"


def installed(model_dir: Path) -> list[InstalledModel]:
    """Every exported model in the folder (a folder without a readable manifest is skipped)."""
    root = Path(model_dir) / "encoders"
    out = []
    for manifest_path in sorted(root.glob(f"*/{MANIFEST}")):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            log.warning("unreadable %s", manifest_path)
            continue
        folder = manifest_path.parent
        out.append(InstalledModel(folder.name, manifest.get("kind", "?"), folder, manifest))
    return out


@dataclass(frozen=True, slots=True)
class StageStatus:
    """One optional stage: on or off, and if off, the command that turns it on."""

    stage: str
    model: str
    on: bool
    reason: str

    def line(self) -> str:
        return f"{self.stage}: {'on' if self.on else 'off'} ({self.reason})"


def stage_status(settings) -> list[StageStatus]:
    """What the workers will run with these settings and this model folder."""
    enc, zs = settings.encoders, settings.zero_shot
    model_dir = Path(settings.model_dir)
    have = {m.name for m in installed(model_dir)}

    def status(stage: str, model: str, wanted: bool, switch: str) -> StageStatus:
        if not enc.enabled:
            return StageStatus(stage, model, False, "disabled: VAD_ENCODERS__ENABLED=false")
        if not wanted:
            return StageStatus(stage, model, False, f"disabled: {switch}=false")
        if model not in have:
            where = export_dir(model_dir, model)
            return StageStatus(stage, model, False, f"{where} not installed; {fix_hint(model)}")
        return StageStatus(stage, model, True, f"model {model}")

    return [
        status("embeddings", enc.clip, enc.store_embeddings, "VAD_ENCODERS__STORE_EMBEDDINGS"),
        status("zero-shot", enc.clip, zs.enabled, "VAD_ZERO_SHOT__ENABLED"),
        status("detector", enc.detector, enc.run_detector, "VAD_ENCODERS__RUN_DETECTOR"),
        status("appearance", enc.clip, settings.appearance.enabled, "VAD_APPEARANCE__ENABLED"),
    ]


def available_providers() -> list[str]:
    return pick_providers()
