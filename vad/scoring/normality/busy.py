"""A frame's worst cell corrected for how many cells moved (busy-scene round).

Why: the pixel model's frame novelty is the max over its cells' nearest-neighbour distances, and
only cells where something moves can be far from their memory. A crowded frame has many moving
cells, so many draws at the tail: its max is larger on normal footage than a quiet frame's, and
the frame calibrator, fitted on training frames that were mostly quieter, calls it rare
(docs/benchmarks-normality.md, busy-scene round: on the busiest quarter of Ped2's training clips
held out, 6 % of normal frames >= 0.5 against 0.2 % on a random clip fold, and the deciding
frames have twice the moving cells). Two corrections, each fitted on the model's held-out
training distances (`busy_correction`):

* ``count``: the max is read as the largest of n draws (n = the frame's moving cells, those with
  a distance above 0) from one continuous distribution of a moving cell's distance (the pooled
  held-out distances of moving cells, `TailCalibrator`: empirical body, Lomax tail, never an
  empirical tail floored by the training count). Its surprise as a max of n draws (Sidak:
  P(max >= x) = 1 - (1 - p)^n) is mapped back to the single draw as rare, so the corrected value
  stays in distance units (`count_corrected`).
* ``curve``: the max divided by (n / n_typical)^b, b the slope (clipped to [0, 1]) of the log of
  a high quantile of the max against the log of n over held-out frames binned by n: monotone,
  slope >= 0, one form for every camera.

``off`` (the default) is the plain max.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vad.scoring.normality.calibration import TailCalibrator

_EXACT_UP_TO = 30.0  # surprise beyond which 1 - (1 - p)^n is n p to double precision
_CURVE_BINS = 8
_CURVE_QUANTILE = 0.9


def sidak_surprise(surprise: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """-log P(the largest of `draws` independent draws >= x), given -log P(one draw >= x)."""
    s = np.maximum(np.asarray(surprise, dtype=np.float64), 0.0)
    n = np.maximum(np.asarray(draws, dtype=np.float64), 1.0)
    p = np.minimum(np.exp(-s), 1.0 - 1e-16)
    with np.errstate(divide="ignore"):
        exact = -np.log(-np.expm1(n * np.log1p(-p)))
    return np.where(s > _EXACT_UP_TO, s - np.log(n), exact)


def count_corrected(values: np.ndarray, draws: np.ndarray, tail: TailCalibrator) -> np.ndarray:
    """The single draw under `tail` as rare as `values` is as the largest of `draws` draws."""
    return tail.raw_at(sidak_surprise(tail.surprise(values), draws))


def activity_slope(active: np.ndarray, worst: np.ndarray) -> float:
    """Slope of log(`_CURVE_QUANTILE` of the max) on log(moving cells) over frames binned by
    their moving cells (equal-count bins), clipped to [0, 1]; 0 without two distinct bins."""
    edges = np.unique(np.quantile(active, np.linspace(0, 1, _CURVE_BINS + 1)))
    if len(edges) < 3:
        return 0.0
    which = np.clip(np.searchsorted(edges, active, side="right") - 1, 0, len(edges) - 2)
    x, y = [], []
    for b in range(len(edges) - 1):
        inside = which == b
        if inside.sum() >= 2:
            x.append(np.log(np.median(active[inside])))
            y.append(np.log(max(float(np.quantile(worst[inside], _CURVE_QUANTILE)), 1e-9)))
    if len(x) < 2 or np.ptp(x) == 0:
        return 0.0
    return float(np.clip(np.polyfit(x, y, 1)[0], 0.0, 1.0))


@dataclass(frozen=True)
class BusyCorrection:
    """How a family's (T, C) cell distances become one value per frame (`frame_values`)."""

    kind: str = "off"
    tail: TailCalibrator | None = None  # count: a moving cell's distance distribution
    slope: float = 0.0  # curve: b
    typical: float = 1.0  # curve: n_typical, the median moving cells of a moving frame

    @classmethod
    def fit(
        cls, kind: str, held: np.ndarray, tail_quantile: float, reference_quantile: float
    ) -> BusyCorrection:
        """From held-out (T, C) training distances; too little motion to fit: the plain max."""
        moving = held > 0
        counts, worst = moving.sum(axis=1), held.max(axis=1)
        if kind == "count" and moving.any():
            tail = TailCalibrator.fit(held[moving], tail_quantile, reference_quantile)
            return cls(kind, tail=tail)
        if kind == "curve" and (counts > 0).sum() >= 2 * _CURVE_BINS:
            busy = counts > 0
            slope = activity_slope(counts[busy].astype(np.float64), worst[busy])
            return cls(kind, slope=slope, typical=float(np.median(counts[busy])))
        return cls()

    def frame_values(self, distances: np.ndarray) -> np.ndarray:
        """(T, C) cell distances -> (T,) the frame's worst cell, corrected for its moving cells."""
        worst = distances.max(axis=1)
        if self.kind == "off":
            return worst
        counts = (distances > 0).sum(axis=1)
        if self.kind == "count" and self.tail is not None:
            return np.where(counts > 0, count_corrected(worst, counts, self.tail), worst)
        return worst / (np.maximum(counts, 1) / self.typical) ** self.slope

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "tail": self.tail.to_dict() if self.tail is not None else None,
            "slope": self.slope,
            "typical": self.typical,
        }

    @classmethod
    def from_dict(cls, data: dict) -> BusyCorrection:
        tail = data.get("tail")
        return cls(
            str(data["kind"]),
            TailCalibrator.from_dict(tail) if tail is not None else None,
            float(data.get("slope", 0.0)),
            float(data.get("typical", 1.0)),
        )
