"""Frame-level anomaly-detection metrics as used in the VAD literature."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def _clean(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN scores become the lowest score: an unscored frame is never a detection."""
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels vs {s.size} scores")
    finite = np.isfinite(s)
    low = s[finite].min() - 1.0 if finite.any() else 0.0
    return y, np.where(finite, s, low)


def frame_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    """ROC-AUC and AP of pooled frames; None where only one class is present."""
    y, s = _clean(labels, scores)
    both = 0 < y.sum() < y.size
    return {
        "auc": float(roc_auc_score(y, s)) if both else None,
        "ap": float(average_precision_score(y, s)) if both else None,
        "frames": int(y.size),
        "anomalous_frames": int(y.sum()),
    }


def per_video_auc(
    labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray]
) -> dict[str, float]:
    """AUC of each video that contains both normal and anomalous frames."""
    out: dict[str, float] = {}
    for name, y in labels.items():
        m = frame_metrics(y, scores[name])
        if m["auc"] is not None:
            out[name] = m["auc"]
    return out
