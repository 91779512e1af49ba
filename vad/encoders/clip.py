"""CLIP-family image-text encoder over two ONNX sessions: the image tower (`ImageEncoder`) and a
text tower.

Preprocessing (`vad/encoders/preprocess.py`) is recorded in the export manifest (image size, mean,
std, context length), so what the runtime feeds is exactly what the exported graph was traced with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from vad.encoders.image import ImageEncoder
from vad.encoders.preprocess import l2_normalize
from vad.encoders.runtime import ModelCorrupt, ModelNotInstalled, open_session


class ClipEncoder(ImageEncoder):
    """Embeds frames and sentences into one space; outputs are L2-normalised float32."""

    KIND = "clip"
    RESIZE = "crop"

    def __init__(
        self,
        model_dir: Path,
        manifest: dict,
        providers: list[str] | None = None,
        threads: int = 0,
        batch_size: int = 16,
    ):
        super().__init__(model_dir, manifest, providers, threads, batch_size)
        self.context_length = int(manifest["context_length"])
        self.logit_scale = float(manifest.get("logit_scale", 100.0))
        files = manifest["files"]
        self._text = open_session(model_dir / files["text"], self.name, providers, threads)
        self._text_inputs = {i.name for i in self._text.get_inputs()}
        self.tokenizer = _load_tokenizer(
            model_dir / files["tokenizer"], self.name, self.context_length, int(manifest["pad_id"])
        )

    @classmethod
    def installed(cls, model_dir: Path, config) -> ClipEncoder | None:
        """The configured CLIP encoder (an `EncoderConfig`), or None if it is not exported.

        A folder that exists but cannot be opened raises `ModelError` (say it, don't hide it)."""
        from vad.encoders.registry import export_dir

        folder = export_dir(Path(model_dir), config.clip)
        if not folder.exists():
            return None
        return cls.load(folder, list(config.providers) or None, config.threads, config.batch_size)

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
