"""Map raw normality distances to [0, 1] scores that mean the same on every camera.

Rule: a raw score x is turned into its tail probability p(x) under the camera's own held-out
training scores (empirical CDF up to `tail_quantile`, a fitted tail above it, so p stays finite
and strictly ordered beyond the largest training score). The surprise L = -log p is then squashed
as L / (L + L_ref) with L_ref = -log(1 - reference_quantile): a score of 0.5 means "as rare as
the reference quantile of normal training footage" (1% with the defaults), 0.75 means three
times as surprising (p = 1e-6), and normal footage sits near 0.

The tail is the predictive distribution of an exponential tail whose scale was estimated from the
k training scores above `tail_quantile` (a Lomax tail: P(X > u + y) = (1 - q)(1 + y / (k
beta))^-k). Two reasons, both measured on `make run`'s demo (docs/benchmarks-normality.md):

* A camera learned from a few minutes of footage has few tail scores, so its scale is uncertain;
  the predictive tail says so (heavier for small k), where the plain exponential would call a
  frame a little past the few training maxima astronomically rare. With k in the hundreds (a
  normal training set) it is the exponential tail over the range of the training scores.
* Far beyond the training maximum the exponential tail's surprise grows linearly in the raw
  score and the squashed score sits at 0.99+ for every anomalous frame, so the incident's peak
  (its key frame) was arbitrary. The predictive tail's surprise grows like k log(raw), so the
  calibrated score keeps the raw order at the top with visible differences. L is computed in
  log space (never exp then log), so no floor flattens it either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_LEVELS = np.linspace(0.0, 1.0, 201)


@dataclass(frozen=True)
class TailCalibrator:
    """Empirical CDF body + predictive (Lomax) tail of the training score distribution."""

    values: np.ndarray  # training-score quantiles at `levels`, up to tail_quantile
    levels: np.ndarray
    threshold: float  # u: start of the tail
    scale: float  # beta: mean exceedance over u
    tail_quantile: float
    reference_quantile: float
    exceedances: float = np.inf  # k: training scores above u (inf = plain exponential tail)

    @classmethod
    def fit(
        cls, scores: np.ndarray, tail_quantile: float, reference_quantile: float
    ) -> TailCalibrator:
        """Fit on held-out training scores (NaN ignored); needs at least one finite score."""
        x = np.asarray(scores, dtype=np.float64)
        x = x[np.isfinite(x)]
        if x.size == 0:
            raise ValueError("cannot calibrate on zero finite training scores")
        levels = _LEVELS[_LEVELS <= tail_quantile]
        values = np.quantile(x, levels)
        u = float(np.quantile(x, tail_quantile))
        exceed = x[x > u] - u
        spread = float(values[-1] - values[0])
        floor = 1e-6 + 1e-3 * max(abs(u), spread)
        beta = max(float(exceed.mean()) if exceed.size else 0.0, floor)
        k = float(max(exceed.size, 1))
        return cls(values, levels, u, beta, tail_quantile, reference_quantile, k)

    def quantiles(self, n: int) -> np.ndarray:
        """n evenly spaced quantiles of the distribution this calibrator describes (its body's
        interpolated values, then its tail, inverted from `surprise`): a stand-in for the
        training scores it was fitted on, which the model does not keep."""
        levels = (np.arange(n) + 0.5) / n
        body = np.interp(levels, self.levels, self.values)
        beyond = np.clip((1.0 - levels) / (1.0 - self.tail_quantile), 1e-300, 1.0)
        if np.isfinite(self.exceedances):
            k = self.exceedances
            excess = k * np.expm1(-np.log(beyond) / k)
        else:
            excess = -np.log(beyond)
        tail = self.threshold + self.scale * excess
        return np.where(levels > self.tail_quantile, tail, body)

    def merged(self, scores: np.ndarray, weight: int, cap: int = 50_000) -> TailCalibrator:
        """Refitted on this distribution (standing for `weight` training frames) plus new
        held-out `scores` (one per new frame): how an incremental update recalibrates without
        the original training scores. Both sides keep their share of frames."""
        new = np.asarray(scores, dtype=np.float64)
        new = new[np.isfinite(new)]
        if new.size == 0:
            return self
        n = int(min(max(weight, 1), cap))
        old = self.quantiles(n)
        if weight > cap:  # the old side is thinned to `cap` points: thin the new side alike
            keep = max(1, round(new.size * cap / weight))
            new = np.quantile(new, (np.arange(keep) + 0.5) / keep)
        return TailCalibrator.fit(
            np.concatenate([old, new]), self.tail_quantile, self.reference_quantile
        )

    def surprise(self, raw: np.ndarray) -> np.ndarray:
        """-log P(training score >= raw): non-decreasing in raw, strictly increasing above the
        tail threshold and never capped."""
        x = np.asarray(raw, dtype=np.float64)
        body = 1.0 - np.interp(x, self.values, self.levels)
        with np.errstate(divide="ignore"):
            body_surprise = -np.log(np.maximum(body, 1e-300))
        excess = np.maximum(x - self.threshold, 0.0) / self.scale
        if np.isfinite(self.exceedances):
            k = self.exceedances
            tail_surprise = k * np.log1p(excess / k)
        else:
            tail_surprise = excess
        tail_surprise = tail_surprise - np.log(1.0 - self.tail_quantile)
        return np.where(x > self.threshold, tail_surprise, body_surprise)

    def raw_at(self, surprise: np.ndarray) -> np.ndarray:
        """The raw score whose `surprise` is the given one (the inverse of `surprise` where it is
        strictly increasing): a surprise computed elsewhere (e.g. of the largest of many draws,
        `vad.scoring.normality.busy`) expressed back in this distribution's raw units."""
        s = np.maximum(np.asarray(surprise, dtype=np.float64), 0.0)
        start = -np.log(1.0 - self.tail_quantile)
        beyond = np.maximum(s - start, 0.0)
        if np.isfinite(self.exceedances):
            k = self.exceedances
            excess = k * np.expm1(beyond / k)
        else:
            excess = beyond
        body = np.interp(-np.expm1(-s), self.levels, self.values)
        return np.where(s > start, self.threshold + self.scale * excess, body)

    def tail_probability(self, raw: np.ndarray) -> np.ndarray:
        """P(training score >= raw), monotone non-increasing in raw (may underflow to 0: use
        `surprise` to compare rare scores)."""
        return np.exp(-self.surprise(raw))

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated score in [0, 1); NaN stays NaN."""
        x = np.asarray(raw, dtype=np.float64)
        surprise = self.surprise(np.nan_to_num(x, nan=0.0))
        ref = -np.log(1.0 - self.reference_quantile)
        out = surprise / (surprise + ref)
        out[~np.isfinite(x)] = np.nan
        return out

    def to_dict(self) -> dict:
        return {
            "values": self.values.tolist(),
            "levels": self.levels.tolist(),
            "threshold": self.threshold,
            "scale": self.scale,
            "tail_quantile": self.tail_quantile,
            "reference_quantile": self.reference_quantile,
            "exceedances": self.exceedances if np.isfinite(self.exceedances) else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> TailCalibrator:
        """Models saved before the predictive tail have no `exceedances`: they keep the
        exponential tail they were calibrated with (computed in log space, so unsaturated)."""
        k = data.get("exceedances")
        return cls(
            np.asarray(data["values"], dtype=np.float64),
            np.asarray(data["levels"], dtype=np.float64),
            float(data["threshold"]),
            float(data["scale"]),
            float(data["tail_quantile"]),
            float(data["reference_quantile"]),
            float(k) if k is not None else np.inf,
        )


def contiguous_folds(n: int, folds: int) -> np.ndarray:
    """Fold of each of n frames, in contiguous blocks: neighbouring frames look alike, so a random
    split would let a frame find itself in the memory and make held-out scores look too normal."""
    return np.minimum(np.arange(n) * folds // max(n, 1), folds - 1)
