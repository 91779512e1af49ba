"""Image-only encoders (kind "image", e.g. MobileNetV2 ImageNet features) and the choice of the
encoder that embeds the appearance model's tiles.

The appearance model needs an embedding of what a part of the view looks like, nothing more; any
installed image tower provides one: an image-only encoder, or a CLIP model's image tower.
`tile_encoder` opens whichever the settings name and says clearly when it is not there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self

import numpy as np

from vad.encoders.preprocess import ImageSpec, l2_normalize
from vad.encoders.runtime import ModelCorrupt, open_session, read_manifest


class ImageEmbedder(Protocol):
    """What the appearance model needs of an encoder (ClipEncoder and ImageEncoder both are)."""

    name: str
    dim: int
    manifest: dict

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray: ...


class ImageEncoder:
    """One ONNX image tower; `embed_images` returns L2-normalised float32 (N, dim). The CLIP
    encoder is this plus a text tower (`vad.encoders.clip.ClipEncoder`)."""

    KIND = "image"  # the manifest kind `load` accepts
    RESIZE = "squash"  # resize mode when the manifest names none

    def __init__(
        self,
        model_dir: Path,
        manifest: dict,
        providers: list[str] | None = None,
        threads: int = 0,
        batch_size: int = 16,
    ) -> None:
        self.model_dir = model_dir
        self.manifest = manifest
        self.name: str = manifest["name"]
        self.dim: int = int(manifest["dim"])
        self.batch_size = batch_size
        self.image_spec = ImageSpec(
            int(manifest["image_size"]),
            tuple(manifest["mean"]),
            tuple(manifest["std"]),
            manifest.get("resize_mode", self.RESIZE),
        )
        files = manifest["files"]
        self._image = open_session(model_dir / files["image"], self.name, providers, threads)
        self.providers: list[str] = self._image.get_providers()

    @classmethod
    def load(
        cls,
        model_dir: Path,
        providers: list[str] | None = None,
        threads: int = 0,
        batch_size: int = 16,
    ) -> Self:
        model_dir = Path(model_dir)
        manifest = read_manifest(model_dir)
        if manifest.get("kind") != cls.KIND:
            raise ModelCorrupt(
                f"{model_dir} holds a {manifest.get('kind')!r} model, not {cls.KIND}"
            )
        return cls(model_dir, manifest, providers, threads, batch_size)

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        """BGR uint8 images (frames or crops, as OpenCV decodes them) -> (N, dim) unit vectors."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        parts = []
        for start in range(0, len(images), self.batch_size):
            pixels = self.image_spec.preprocess(images[start : start + self.batch_size])
            parts.append(self.image_features(pixels))
        return l2_normalize(np.concatenate(parts))

    def image_features(self, pixels: np.ndarray) -> np.ndarray:
        """Raw (unnormalised) outputs of an already preprocessed batch."""
        return self._image.run(None, {"pixel_values": pixels})[0]


def tile_encoder(model_dir: Path, name: str, config) -> ImageEmbedder | None:
    """The installed encoder `name` (an image encoder or a CLIP model) for the appearance
    model's tiles, or None when it is not exported. `config` is the `EncoderConfig` (providers,
    threads, batch size). A folder that exists but cannot be opened raises `ModelError`."""
    from vad.encoders.clip import ClipEncoder
    from vad.encoders.registry import export_dir

    folder = export_dir(Path(model_dir), name)
    if not folder.exists():
        return None
    manifest = read_manifest(folder, name)
    kind = manifest.get("kind")
    encoder = {ClipEncoder.KIND: ClipEncoder, ImageEncoder.KIND: ImageEncoder}.get(kind)
    if encoder is not None:
        options = (list(config.providers) or None, config.threads, config.batch_size)
        return encoder(folder, manifest, *options)
    raise ModelCorrupt(
        f"model {name!r} in {folder} is a {kind!r} model; the appearance model needs an image "
        f"encoder (mobilenetv2, efficientnet-lite2) or a CLIP model (VAD_APPEARANCE__ENCODER)"
    )
