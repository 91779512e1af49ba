"""Per-cell nearest-neighbour memory of normal feature vectors.

Novelty = distance to the closest normal examples seen at the same grid position. Nearest
neighbours need no distributional assumption (a cell may be normally empty, or crossed by people in
two directions) and a greedy k-center coreset keeps rare-but-normal patterns that random
subsampling would drop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_PAD = np.float32(1e6)
# cells per step of `CellMemory.distances`: (cells, T, M) temporaries of ~1 MB (cache-sized)
# instead of ~70 MB for a whole Ped2 clip; 4-8 were fastest (2.1x the whole array), 32 1.6x
_CELLS_AT_ONCE = 8


def feature_scale(features: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Per-dimension scale from training samples where something moves (static cells are ~0 and
    would otherwise shrink every scale); floored so a constant feature cannot explode distances."""
    flat = features.reshape(-1, features.shape[-1])
    pick = flat[active.reshape(-1)] if active.any() else flat
    scale = pick.std(axis=0) if len(pick) > 1 else np.ones(flat.shape[-1])
    return np.maximum(scale, 1e-3).astype(np.float32)


def _collapse_zeros(z: np.ndarray) -> np.ndarray:
    """(C, T, D) -> (C, T', D): a cell's exact zero vectors (nothing there, e.g. a still cell for a
    family that masks out the static scene) are one point to a nearest-neighbour memory, so keep
    just enough of them that every cell holds one; its non-zero vectors all stay, in order."""
    nonzero = np.abs(z).sum(axis=2) > 0
    keep = int(nonzero.sum(axis=1).max()) + 1
    if keep >= z.shape[1]:
        return z
    order = np.argsort(~nonzero, axis=1, kind="stable")[:, :keep]
    return np.take_along_axis(z, order[..., None], axis=1)


def kcenter(points: np.ndarray, k: int) -> np.ndarray:
    """Greedy k-center selection for all cells at once: points (C, N, D) -> indices (C, k)."""
    cells, n, _ = points.shape
    chosen = np.zeros((cells, k), dtype=np.int64)
    start = np.linalg.norm(points - points.mean(axis=1, keepdims=True), axis=2).argmin(axis=1)
    chosen[:, 0] = start
    rows = np.arange(cells)
    mind = ((points - points[rows, start][:, None]) ** 2).sum(axis=2)
    for j in range(1, k):
        nxt = mind.argmax(axis=1)
        chosen[:, j] = nxt
        mind = np.minimum(mind, ((points - points[rows, nxt][:, None]) ** 2).sum(axis=2))
    return chosen


@dataclass(frozen=True)
class CellMemory:
    """(cells, M, D) standardised normal vectors; padding rows sit far away, never nearest."""

    bank: np.ndarray
    scale: np.ndarray
    neighbours: int
    cell_scale: np.ndarray | None = None  # (C,) typical held-out distance per cell

    def with_cell_scale(self, cell_scale: np.ndarray) -> CellMemory:
        return CellMemory(self.bank, self.scale, self.neighbours, cell_scale.astype(np.float32))

    @classmethod
    def build(
        cls, features: np.ndarray, scale: np.ndarray, size: int, neighbours: int, seed: int
    ) -> CellMemory:
        """features: (T, C, D) training vectors of every frame."""
        z = (features / scale).transpose(1, 0, 2).astype(np.float32)  # (C, T, D)
        z = _collapse_zeros(z)
        n = z.shape[1]
        if n > size:
            rng = np.random.default_rng(seed)
            pool = rng.choice(n, size=min(n, 4 * size), replace=False)
            z = z[:, np.sort(pool)]
            idx = kcenter(z, size)
            z = np.take_along_axis(z, idx[..., None], axis=1)
        if z.shape[1] < neighbours:
            pad = np.full((z.shape[0], neighbours - z.shape[1], z.shape[2]), _PAD, np.float32)
            z = np.concatenate([z, pad], axis=1)
        return cls(z, scale.astype(np.float32), neighbours)

    def extended(self, features: np.ndarray, limit: int, seed: int) -> CellMemory:
        """This memory plus new normal vectors (T, C, D), in the same scale: what an operator's
        "this was normal" adds. The bank is not rebuilt: the new vectors (at most `limit` per
        cell, a k-center coreset of them beyond that) are appended, padding dropped."""
        if len(features) == 0:
            return self
        new = CellMemory.build(features, self.scale, limit, 1, seed).bank
        old = self.bank
        real = ~(old == _PAD).all(axis=(0, 2))  # padding rows are padding in every cell
        bank = np.concatenate([old[:, real], new], axis=1)
        if bank.shape[1] < self.neighbours:
            pad = np.full((bank.shape[0], self.neighbours - bank.shape[1], bank.shape[2]), _PAD)
            bank = np.concatenate([bank, pad.astype(np.float32)], axis=1)
        return CellMemory(bank, self.scale, self.neighbours, self.cell_scale)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """(T, C, D) query vectors -> (T, C) mean distance to the k nearest same-cell vectors."""
        q = (features / self.scale).transpose(1, 0, 2).astype(np.float32)  # (C, T, D)
        q_sq, bank_sq = (q**2).sum(-1), (self.bank**2).sum(-1)  # (C, T), (C, M)
        steps = [slice(c, c + _CELLS_AT_ONCE) for c in range(0, len(q), _CELLS_AT_ONCE)]
        d = np.concatenate(
            [self._nearest(q[s], q_sq[s], bank_sq[s], self.bank[s]) for s in steps]
        ).T
        return d / self.cell_scale if self.cell_scale is not None else d

    def _nearest(
        self, q: np.ndarray, q_sq: np.ndarray, bank_sq: np.ndarray, bank: np.ndarray
    ) -> np.ndarray:
        """(c, T) mean distance of queries `q` (c, T, D) to their k nearest of `bank` (c, M, D)
        (`q_sq`, `bank_sq`: their squared norms), a few cells at a time (`_CELLS_AT_ONCE`).

        |q|^2 + |b|^2 - 2 q.b with one temporary (speed round 2), and for a few cells at a time
        (speed round 3: the whole (C, T, M) array was ~70 MB a Ped2 clip, written and read five
        times from memory). Every cell is its own matrix product (numpy's matmul calls the same
        BLAS product per cell either way) and every other step works per cell and per query, in
        the same order: the same bits as the whole array at once."""
        cross = np.matmul(q, bank.transpose(0, 2, 1))  # (c, T, M)
        d2 = np.add(q_sq[..., None], bank_sq[:, None, :])
        cross *= 2.0
        d2 -= cross
        k = self.neighbours
        near = np.partition(d2, k - 1, axis=2)[..., :k] if k > 1 else d2.min(axis=2, keepdims=True)
        return np.sqrt(np.maximum(near, 0.0)).mean(axis=2)


def neighbour_vectors(features: np.ndarray, grid: tuple[int, int], radius: int) -> np.ndarray:
    """(T, C, D) vectors of cells on a row-major `grid` -> (T * ((2 radius + 1)^2 - 1), C, D):
    what each cell's neighbours within `radius` cells saw (zeros past the border; the cell's own
    vectors are not repeated). Learned as normal too, what an operator marked normal at one
    place is normal a few cells away: the same walker one step to the side is not a new false
    alarm."""
    t, cells, d = features.shape
    rows, cols = grid
    if rows * cols != cells:
        raise ValueError(f"{cells} cells are not a {rows} x {cols} grid")
    src = features.reshape(t, rows, cols, d)
    out = []
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            if dr == dc == 0:
                continue
            moved = np.zeros_like(src)
            r0, r1 = max(0, dr), rows + min(0, dr)
            c0, c1 = max(0, dc), cols + min(0, dc)
            moved[:, r0:r1, c0:c1] = src[:, r0 - dr : r1 - dr, c0 - dc : c1 - dc]
            out.append(moved.reshape(t, cells, d))
    return np.concatenate(out) if out else features[:0]


def cell_scales(held_out: np.ndarray, quantile: float) -> np.ndarray:
    """Per-cell quantile of held-out distances (T, C) -> (C,), floored at the median cell.

    Dividing by it equalises how often each position fires on normal footage (a busy walkway
    varies more than a lawn), while the floor stops a normally empty cell from turning noise
    into alarms.
    """
    per_cell = np.quantile(held_out, quantile, axis=0)
    return np.maximum(per_cell, max(float(np.median(per_cell)), 1e-6))
