"""Training the grounding head with torch (the `export` extra; never imported at runtime).

Losses as in UniVTG: binary cross-entropy on per-clip foreground, L1 on the boundary offsets of
foreground clips, and a margin ranking loss that puts every foreground clip's saliency above the
background clips' of the same video. The result is exported as numpy arrays (`GroundingHead`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vad.grounding.curve import grid_step
from vad.grounding.data import Sample
from vad.grounding.head import GroundingHead

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainOptions:
    hidden: int = 64
    kernel: int = 5
    epochs: int = 40
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    saliency_margin: float = 0.2
    offset_weight: float = 0.5
    seed: int = 0


def targets(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: inside the described span (0/1), and clips back to its start / on to its end."""
    times = sample.footage.timestamps
    step = grid_step(times)
    q = sample.query
    inside = ((times + step > q.start) & (times < q.end)).astype(np.float32)
    back = np.clip((times - q.start) / step, 0, None)
    forward = np.clip((q.end - times) / step - 1, 0, None)
    return inside, np.stack([back, forward], axis=1).astype(np.float32)


def _batch(batch: list[Sample]):
    import torch

    length = max(len(s.footage.timestamps) for s in batch)
    dim = batch[0].footage.embeddings.shape[1]
    frames = np.zeros((len(batch), length, dim), np.float32)
    mask, fg = np.zeros((2, len(batch), length), np.float32)
    offsets = np.zeros((len(batch), length, 2), np.float32)
    for i, s in enumerate(batch):
        n = len(s.footage.timestamps)
        frames[i, :n] = s.footage.embeddings
        mask[i, :n] = 1
        fg[i, :n], offsets[i, :n] = targets(s)
    texts = np.stack([s.text for s in batch]).astype(np.float32)
    return [torch.from_numpy(a) for a in (frames, texts, mask, fg, offsets)]


def _module(dim: int, options: TrainOptions):
    import torch
    from torch import nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            h = options.hidden
            self.v, self.t = nn.Linear(dim, h), nn.Linear(dim, h)
            self.fuse, self.plain = nn.Linear(h, h), nn.Linear(h, h, bias=False)
            self.conv = nn.Conv1d(h, h, options.kernel, padding=options.kernel // 2)
            self.fg, self.off, self.sal = nn.Linear(h, 1), nn.Linear(h, 2), nn.Linear(h, 1)

        def forward(self, frames, text, mask):
            v, t = self.v(frames), self.t(text)[:, None, :]
            h = torch.relu(self.fuse(v * t) + self.plain(v)) * mask[..., None]
            h = h + torch.relu(self.conv(h.transpose(1, 2)).transpose(1, 2))
            off = nn.functional.softplus(self.off(h))
            return self.fg(h)[..., 0], off, self.sal(h)[..., 0]

    return Head()


def _loss(outputs, mask, fg, offsets, options: TrainOptions):
    import torch
    from torch import nn

    logits, off, sal = outputs
    bce = nn.functional.binary_cross_entropy_with_logits(logits, fg, reduction="none")
    fg_loss = (bce * mask).sum() / mask.sum()
    inside = fg * mask
    l1 = (off - offsets).abs().sum(-1)
    off_loss = (l1 * inside).sum() / inside.sum().clamp(min=1)
    outside = (1 - fg) * mask
    pos = (sal * inside).sum(1) / inside.sum(1).clamp(min=1)
    neg_max = torch.where(outside > 0, sal, torch.full_like(sal, -1e4)).max(1).values
    has_both = (inside.sum(1) > 0) & (outside.sum(1) > 0)
    rank = torch.relu(options.saliency_margin - pos + neg_max)[has_both]
    sal_loss = rank.mean() if rank.numel() else sal.sum() * 0
    return fg_loss + options.offset_weight * off_loss / 10 + sal_loss


def train_head(samples: list[Sample], options: TrainOptions | None = None) -> GroundingHead:
    """Fit a head on (video, sentence) samples; deterministic for a given seed."""
    import torch

    options = options or TrainOptions()
    if not samples:
        raise ValueError("no training samples (no video of the split has an embedding file)")
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    dim = samples[0].footage.embeddings.shape[1]
    model = _module(dim, options)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    for epoch in range(options.epochs):
        order = rng.permutation(len(samples))
        total = 0.0
        for begin in range(0, len(order), options.batch_size):
            batch = [samples[i] for i in order[begin : begin + options.batch_size]]
            frames, texts, mask, fg, offsets = _batch(batch)
            loss = _loss(model(frames, texts, mask), mask, fg, offsets, options)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        log.info("epoch %d loss %.4f", epoch + 1, total / len(samples))
    return export(model)


def export(model) -> GroundingHead:
    """torch Linear weights are (out, in): transpose to the numpy head's (in, out)."""

    def arr(t) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32)

    return GroundingHead(
        {
            "Wv": arr(model.v.weight).T,
            "bv": arr(model.v.bias),
            "Wt": arr(model.t.weight).T,
            "bt": arr(model.t.bias),
            "W1": arr(model.fuse.weight).T,
            "W2": arr(model.plain.weight).T,
            "b1": arr(model.fuse.bias),
            "Wc": arr(model.conv.weight),
            "bc": arr(model.conv.bias),
            "wf": arr(model.fg.weight).T,
            "bf": arr(model.fg.bias),
            "Wo": arr(model.off.weight).T,
            "bo": arr(model.off.bias),
            "ws": arr(model.sal.weight).T,
            "bs": arr(model.sal.bias),
        }
    )
