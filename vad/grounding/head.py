"""The trained grounding head (after UniVTG, Lin et al. 2023), inference in numpy.

Over frozen frame embeddings V (T, D) and a text embedding q (D,), per clip it predicts a
foreground logit (is this clip inside the described moment), boundary offsets (how far back the
moment starts and forward it ends, in clips) and a saliency score. Weights come from
`vad.grounding.train` (torch, the `export` extra) as a `.npz`, so serving needs numpy only.

Architecture, the same in both places:
    v = V Wv + bv, t = q Wt + bt                     (D -> H each)
    h = relu((v * t) W1 + v W2 + b1)                 (fusion)
    h = h + relu(conv1d(h, Wc, kernel K) + bc)      (temporal context)
    fg = h wf + bf, off = softplus(h Wo + bo), sal = h ws + bs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vad.grounding.curve import grid_step
from vad.grounding.proposals import nms
from vad.grounding.tfvtg import Moment

PARAMS = ("Wv", "bv", "Wt", "bt", "W1", "W2", "b1", "Wc", "bc", "wf", "bf", "Wo", "bo", "ws", "bs")


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def conv1d_same(h: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(T, Cin) * (Cout, Cin, K) -> (T, Cout), zero padding, as torch Conv1d(padding=K//2)."""
    size = weight.shape[2]
    padded = np.pad(h, ((size // 2, size // 2), (0, 0)))
    out = np.zeros((h.shape[0], weight.shape[0]), dtype=h.dtype) + bias
    for k in range(size):
        out += padded[k : k + h.shape[0]] @ weight[:, :, k].T
    return out


@dataclass(frozen=True, slots=True)
class HeadOutput:
    foreground: np.ndarray  # (T,) probability
    offsets: np.ndarray  # (T, 2) clips back to the start, forward to the end
    saliency: np.ndarray  # (T,)


class GroundingHead:
    def __init__(self, params: dict[str, np.ndarray], info: dict | None = None):
        missing = [p for p in PARAMS if p not in params]
        if missing:
            raise ValueError(f"grounding head weights lack {missing}")
        self.p = {k: np.asarray(params[k], dtype=np.float32) for k in PARAMS}
        self.info = info or {}

    @property
    def dim(self) -> int:
        return int(self.p["Wv"].shape[0])

    @classmethod
    def load(cls, path: Path) -> GroundingHead:
        with np.load(path) as data:
            return cls({k: data[k] for k in PARAMS})

    def save(self, path: Path) -> Path:
        np.savez(path, **self.p)
        return Path(path)

    def forward(self, frames: np.ndarray, text: np.ndarray) -> HeadOutput:
        p = self.p
        v = np.asarray(frames, np.float32) @ p["Wv"] + p["bv"]
        t = np.asarray(text, np.float32).reshape(-1) @ p["Wt"] + p["bt"]
        h = _relu((v * t) @ p["W1"] + v @ p["W2"] + p["b1"])
        h = h + _relu(conv1d_same(h, p["Wc"], p["bc"]))
        return HeadOutput(
            foreground=_sigmoid(h @ p["wf"] + p["bf"]).reshape(-1),
            offsets=_softplus(h @ p["Wo"] + p["bo"]),
            saliency=(h @ p["ws"] + p["bs"]).reshape(-1),
        )

    def ground(
        self,
        text: np.ndarray,
        frames: np.ndarray,
        timestamps: np.ndarray,
        k: int = 5,
        nms_iou: float = 0.3,
    ) -> list[Moment]:
        """Each clip proposes [t - back, t + forward] scored by its foreground probability."""
        if len(frames) == 0:
            return []
        out = self.forward(frames, text)
        times = np.asarray(timestamps, np.float64)
        step = grid_step(times)
        starts = np.maximum(times - out.offsets[:, 0] * step, times.min())
        ends = np.minimum(times + (out.offsets[:, 1] + 1) * step, times.max() + step)
        kept = nms(starts, ends, out.foreground.astype(np.float64), nms_iou, k)
        return [
            Moment(
                float(starts[i]), float(ends[i]), float(out.foreground[i]), float(out.saliency[i])
            )
            for i in kept
        ]
