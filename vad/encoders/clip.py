"""CLIP-family image-text encoder over two ONNX sessions (image tower, text tower).

Preprocessing is defined here once and recorded in the export manifest (image size, mean, std,
context length), so what the runtime feeds is exactly what the exported graph was traced with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tokenizers import Tokenizer

from vad.encoders.runtime import ModelCorrupt, ModelNotInstalled, open_session, read_manifest


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """How a BGR frame becomes the image tower's input tensor."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    mode: str = "crop"  # "crop" (CLIP) or "squash" (SigLIP: whole frame to a square)

    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        """Resize (short side to `size` + centre crop, or the whole frame to size x size; bicubic),
        RGB, scale to [0, 1], normalise. Returns float32 (N, 3, size, size)."""
        out = np.empty((len(images), 3, self.size, self.size), np.float32)
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        for i, image in enumerate(images):
            rgb = _to_rgb(image)
            if self.mode == "squash":
                resized = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_CUBIC)
            else:
                resized = _resize_crop(rgb, self.size)
            crop = resized.astype(np.float32) / 255.0
            out[i] = ((crop - mean) / std).transpose(2, 0, 1)
        return out


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _resize_crop(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_CUBIC)
    top, left = (nh - size) // 2, (nw - size) // 2
    return resized[top : top + size, left : left + size]


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


class ClipEncoder:
    """Embeds frames and sentences into one space; outputs are L2-normalised float32."""

    def __init__(
        self,
        model_dir: Path,
        manifest: dict,
        providers: list[str] | None = None,
        threads: int = 0,
        batch_size: int = 16,
    ):
        self.model_dir = model_dir
        self.manifest = manifest
        self.name: str = manifest["name"]
        self.dim: int = int(manifest["dim"])
        self.batch_size = batch_size
        self.image_spec = ImageSpec(
            int(manifest["image_size"]),
            tuple(manifest["mean"]),
            tuple(manifest["std"]),
            manifest.get("resize_mode", "crop"),
        )
        self.context_length = int(manifest["context_length"])
        self.logit_scale = float(manifest.get("logit_scale", 100.0))
        files = manifest["files"]
        self._image = open_session(model_dir / files["image"], self.name, providers, threads)
        self._text = open_session(model_dir / files["text"], self.name, providers, threads)
        self._text_inputs = {i.name for i in self._text.get_inputs()}
        self.tokenizer = _load_tokenizer(
            model_dir / files["tokenizer"], self.name, self.context_length, int(manifest["pad_id"])
        )
        self.providers: list[str] = self._image.get_providers()

    @classmethod
    def load(
        cls,
        model_dir: Path,
        providers: list[str] | None = None,
        threads: int = 0,
        batch_size: int = 16,
    ) -> ClipEncoder:
        model_dir = Path(model_dir)
        manifest = read_manifest(model_dir)
        if manifest.get("kind") != "clip":
            raise ModelCorrupt(f"{model_dir} holds a {manifest.get('kind')!r} model, not clip")
        return cls(model_dir, manifest, providers, threads, batch_size)

    @classmethod
    def installed(cls, model_dir: Path, config) -> ClipEncoder | None:
        """The configured CLIP encoder (an `EncoderConfig`), or None if it is not exported.

        A folder that exists but cannot be opened raises `ModelError` (say it, don't hide it)."""
        from vad.encoders.registry import export_dir

        folder = export_dir(Path(model_dir), config.clip)
        if not folder.exists():
            return None
        return cls.load(folder, list(config.providers) or None, config.threads, config.batch_size)

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """BGR uint8 frames (as OpenCV decodes them) -> (N, dim) unit vectors."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        parts = []
        for start in range(0, len(images), self.batch_size):
            pixels = self.image_spec.preprocess(images[start : start + self.batch_size])
            parts.append(self.image_features(pixels))
        return l2_normalize(np.concatenate(parts))

    def image_features(self, pixels: np.ndarray) -> np.ndarray:
        """Raw (unnormalised) projections of an already preprocessed batch."""
        return self._image.run(None, {"pixel_values": pixels})[0]

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Sentences -> (N, dim) unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            ids, mask = self.tokenize(texts[start : start + self.batch_size])
            parts.append(self.text_features(ids, mask))
        return l2_normalize(np.concatenate(parts))

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in encodings], np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], np.int64)
        return ids, mask

    def text_features(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids}
        if "attention_mask" in self._text_inputs:
            feeds["attention_mask"] = mask
        return self._text.run(None, feeds)[0]


def _load_tokenizer(path: Path, name: str, length: int, pad_id: int) -> Tokenizer:
    """The exported tokenizer, padded and truncated to the text tower's fixed context length."""
    if not path.is_file():
        raise ModelNotInstalled(
            f"model {name!r}: tokenizer {path} missing; re-export it with "
            f"`vad models export {name}`"
        )
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # noqa: BLE001 - the Rust side raises a plain Exception
        raise ModelCorrupt(f"model {name!r}: cannot read tokenizer {path} ({error})") from error
    tokenizer.enable_truncation(max_length=length)
    tokenizer.enable_padding(
        length=length, pad_id=pad_id, pad_token=tokenizer.id_to_token(pad_id) or ""
    )
    return tokenizer
