"""How much stage 2 may move a window's score: set per LLM model from the ratings it gives a
camera's NORMAL footage, never by hand (issue 19).

Why from normal footage: it is the only footage every camera has labels for (the training
clips), and it answers the question that matters for false alarms: what does this model say when
nothing happens? A rating only means something if it stands above those. So

- the LLM may only RAISE a score, and only by how far its rating exceeds the 95th percentile of
  its normal ratings: `fused = stage1 + w * max(0, rating - p95)`; a weight of 0 leaves stage 1
  untouched (the pooled AUC is then stage 1's by construction);
- w is `stage2.fusion_weight` when the normal ratings are low (room above them) and spread (the
  model reacts to what it reads); otherwise 0 and the model is used for explanations only. A
  model rating every window ~0.1 (SmolLM2-135M on Ped2) gives weight 0.

Pure functions; the ratings are collected by `vad.stage2.calibration`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_JSON = "stage2_calibration.json"  # in the camera's model folder
MIN_WINDOWS = 8  # parsed normal ratings needed before a weight is trusted
MAX_NORMAL_P95 = 0.7  # above this a rating has no room to stand out
MIN_SPREAD = 0.05  # middle 80 % of normal ratings within this: the model does not react
NOT_CALIBRATED = "not calibrated: run `vad stage2 calibrate CAMERA --from FOOTAGE`"
# at weight 0 the stage-2 worker does not ask for the rating: it would change no score
NOT_RATED_NOTE = "windows get a summary and an explanation, the rating is skipped"


@dataclass(frozen=True)
class FusionWeight:
    """The weight stage 2 gets for one model on one camera, and why."""

    model: str | None
    weight: float
    normal_p95: float  # ratings at or below this raise nothing
    reason: str

    @property
    def explanations_only(self) -> bool:
        return self.weight == 0

    def describe(self) -> str:
        name = self.model or "LLM"
        if self.explanations_only:
            return f"{name}: explanations only (weight 0; {NOT_RATED_NOTE}): {self.reason}"
        above = f"above its normal p95 {self.normal_p95:.2f}"
        return f"{name}: weight {self.weight:g} {above}: {self.reason}"

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "weight": self.weight,
            "normal_p95": self.normal_p95,
            "explanations_only": self.explanations_only,
            "reason": self.reason,
        }


def fit_weight(
    model: str | None, normal_ratings: list[float | None], max_weight: float
) -> FusionWeight:
    """The weight of `model` from its ratings of normal windows (None = did not parse)."""
    parsed = np.array([r for r in normal_ratings if r is not None], dtype=float)
    if not normal_ratings:
        return FusionWeight(model, 0.0, 1.0, NOT_CALIBRATED)
    if len(parsed) < MIN_WINDOWS:
        reason = f"only {len(parsed)} of {len(normal_ratings)} normal windows got a rating"
        return FusionWeight(model, 0.0, 1.0, f"{reason} (needs {MIN_WINDOWS})")
    p95 = float(np.percentile(parsed, 95))
    low, high = np.percentile(parsed, [10, 90])
    spread = float(high - low)  # of the middle 80 %: one odd answer is not a spread
    if spread < MIN_SPREAD:
        reason = (
            f"rates normal windows like anomalous ones: the middle 80 % of {len(parsed)} "
            f"normal ratings lie within {spread:.2f} (~{float(np.median(parsed)):.2f})"
        )
        return FusionWeight(model, 0.0, p95, reason)
    if p95 > MAX_NORMAL_P95:
        reason = f"rates normal windows high (95th percentile {p95:.2f}): nothing can stand out"
        return FusionWeight(model, 0.0, p95, reason)
    if max_weight <= 0:
        return FusionWeight(model, 0.0, p95, "stage2.fusion_weight is 0")
    reason = f"normal ratings spread {spread:.2f} with p95 {p95:.2f} over {len(parsed)} windows"
    return FusionWeight(model, float(max_weight), p95, reason)


def fuse(stage1: float, rating: float | None, weight: FusionWeight) -> float:
    """Stage 1 raised by the LLM's rating where it exceeds its normal p95; never lowered."""
    if rating is None or weight.weight <= 0:
        return float(stage1)
    return float(stage1) + weight.weight * max(0.0, float(rating) - weight.normal_p95)


def follow_peak(fused: float | None, old_peak: float, new_peak: float) -> float | None:
    """An incident's fused score once its stage-1 peak moved from `old_peak` to `new_peak`:
    stage 2's raise (fused - peak, the same for any peak: see `fuse`) stays on the new peak, so
    the fused score never falls behind the stage-1 peak it raises. None (stage 2 has not
    analysed the incident) stays None; a raise below 0 (a score stale from before this rule)
    is healed to 0."""
    if fused is None:
        return None
    return float(new_peak) + max(0.0, float(fused) - float(old_peak))


def save_ratings(directory: Path, model: str, ratings: list[float | None]) -> Path:
    """Record `model`'s normal ratings beside the camera's model (other models' kept)."""
    doc = read_ratings(directory)
    doc[model] = ratings
    path = Path(directory) / CALIBRATION_JSON
    path.write_text(json.dumps({"normal_ratings": doc}, indent=1))
    return path


def read_ratings(directory: Path | None) -> dict[str, list[float | None]]:
    """model -> its normal ratings from the camera's model folder; {} when none (or unreadable:
    an uncalibrated model gets weight 0, which is the safe side)."""
    path = Path(directory) / CALIBRATION_JSON if directory is not None else None
    if path is None or not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text()).get("normal_ratings", {})
        return {str(k): [None if r is None else float(r) for r in v] for k, v in doc.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def weights_in(directory: Path | None, max_weight: float) -> list[FusionWeight]:
    """The weight of every model calibrated on the camera whose model folder is `directory`;
    one uncalibrated entry (weight 0) when there is none."""
    ratings = read_ratings(directory)
    if not ratings:
        return [fit_weight(None, [], max_weight)]
    return [fit_weight(model, r, max_weight) for model, r in sorted(ratings.items())]


def weight_for(directory: Path | None, model: str | None, max_weight: float) -> FusionWeight:
    """The weight of `model` on the camera whose model folder is `directory`."""
    ratings = read_ratings(directory).get(model or "", [])
    return fit_weight(model, ratings, max_weight)
