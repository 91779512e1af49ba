"""`CellMemory.distances` computes |q|^2 + |b|^2 - 2 q.b with one temporary (speed round 2), a
few cells at a time (speed round 3): the same operations in the same order as the
three-temporary expression over the whole (cells, frames, memory) array, so the same bits."""

from __future__ import annotations

import numpy as np
import pytest

from vad.scoring.normality.memory import _CELLS_AT_ONCE, CellMemory


def distances_with_temporaries(memory: CellMemory, features: np.ndarray) -> np.ndarray:
    """`CellMemory.distances` as it was written before the speed round."""
    q = (features / memory.scale).transpose(1, 0, 2).astype(np.float32)
    cross = np.matmul(q, memory.bank.transpose(0, 2, 1))
    d2 = (q**2).sum(-1)[..., None] + (memory.bank**2).sum(-1)[:, None, :] - 2.0 * cross
    k = memory.neighbours
    near = np.partition(d2, k - 1, axis=2)[..., :k] if k > 1 else d2.min(axis=2, keepdims=True)
    d = np.sqrt(np.maximum(near, 0.0)).mean(axis=2).T
    return d / memory.cell_scale if memory.cell_scale is not None else d


@pytest.mark.parametrize("neighbours,with_cell_scale", [(1, False), (1, True), (3, True)])
def test_distances_are_bit_for_bit_the_three_temporary_expression(neighbours, with_cell_scale):
    rng = np.random.default_rng(neighbours)
    cells, frames, dims = 7, 30, 5
    train = rng.gamma(2.0, 1.0, (200, cells, dims)).astype(np.float32)
    scale = train.std(axis=(0, 1)) + 1e-3
    memory = CellMemory.build(train, scale, 64, neighbours, seed=0)
    if with_cell_scale:
        memory = memory.with_cell_scale(rng.uniform(0.5, 2.0, cells))
    queries = rng.gamma(2.0, 1.0, (frames, cells, dims)).astype(np.float32)
    queries[:3] = train[:3]  # exact matches: distances at (or rounded around) zero
    got = memory.distances(queries)
    assert np.array_equal(got, distances_with_temporaries(memory, queries))


@pytest.mark.parametrize("neighbours", [1, 3])
def test_distances_a_few_cells_at_a_time_are_bit_for_bit_the_whole_array(neighbours):
    """Several steps of `_CELLS_AT_ONCE` cells and a shorter last one, a bank of a realistic
    width, still cells (zero vectors, as the `shape` family gives) among the queries."""
    rng = np.random.default_rng(10 + neighbours)
    cells, frames, dims = 4 * _CELLS_AT_ONCE + 5, 60, 40
    train = rng.gamma(2.0, 1.0, (700, cells, dims)).astype(np.float32)
    train[rng.random((700, cells)) < 0.5] = 0.0
    scale = train.std(axis=(0, 1)) + 1e-3
    memory = CellMemory.build(train, scale, 256, neighbours, seed=0)
    queries = rng.gamma(2.0, 1.0, (frames, cells, dims)).astype(np.float32)
    queries[rng.random((frames, cells)) < 0.7] = 0.0
    queries[:2] = train[:2]
    got = memory.distances(queries)
    assert got.shape == (frames, cells) and got.dtype == np.float32
    assert np.array_equal(got, distances_with_temporaries(memory, queries))
