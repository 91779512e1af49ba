"""Fusion rules of stage 1's calibrated terms, compared on the training-only proxy's stored
scores (`bench/stage1_proxy.py --out`; no test label is read).

Per rule and pseudo-anomaly kind: pooled AUC over the held-out clips (each clip with its pasted
segment, normal frames before and after), mean per-clip AUC, and the share of the segments'
normal frames at or above 0.5 (false alarms at the incident threshold).

    python bench/stage1_fusion.py /tmp/proxy-ped2.npz /tmp/proxy-ped1.npz
    # look-ahead round: the fused score (or each term) through a window of P past, L future frames
    python bench/stage1_fusion.py --ahead /tmp/proxy-ped2.npz /tmp/proxy-ped1.npz
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from vad.eval.metrics import frame_metrics  # noqa: E402
from vad.scoring.normality.smoothing import smooth_scores  # noqa: E402

L_REF = -np.log(1 - 0.99)


def surprise(c: np.ndarray) -> np.ndarray:
    """The calibrated score's surprise (-log tail probability): c = L / (L + L_ref)."""
    c = np.clip(c, 0, 1 - 1e-12)
    return L_REF * c / (1 - c)


def squash(s: np.ndarray) -> np.ndarray:
    return s / (s + L_REF)


def load(path: str) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """{kind: {clip: {term or 'labels': array}}}."""
    z = np.load(path)
    out: dict = defaultdict(lambda: defaultdict(dict))
    for key in z.files:
        clip, kind, what = key.split("|")
        out[kind][clip][what] = z[key].astype(np.float64)
    return out


def stack(terms: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    return np.stack([np.nan_to_num(terms[n], nan=0.0) for n in names if n in terms])


Rule = Callable[[dict[str, np.ndarray]], np.ndarray]


def rule_max(names: list[str], weights: dict[str, float] | None = None) -> Rule:
    w = weights or {}

    def rule(t):
        s = np.stack([w.get(n, 1.0) * surprise(np.nan_to_num(t[n])) for n in names if n in t])
        return squash(s.max(0))

    return rule


def rule_sum(names: list[str]) -> Rule:
    return lambda t: squash(
        np.stack([surprise(np.nan_to_num(t[n])) for n in names if n in t]).sum(0)
    )


def fisher(surprises: np.ndarray) -> np.ndarray:
    """Fisher's method on surprises (-log tail probabilities, Exp(1) under normal footage): the
    surprise of their sum under Gamma(k, 1), so the combined score keeps its calibrated meaning."""
    k = surprises.shape[0]
    total = surprises.sum(0)
    log_total = np.log(np.maximum(total, 1e-300))
    log_terms = np.stack([i * log_total - np.log(np.arange(1, i + 1)).sum() for i in range(k)])
    return total - np.logaddexp.reduce(log_terms, axis=0)


def rule_fisher_then_max(inner: list[str], outer: list[str]) -> Rule:
    def rule(t):
        s = fisher(np.stack([surprise(np.nan_to_num(t[n])) for n in inner]))
        rest = [surprise(np.nan_to_num(t[n])) for n in outer if n in t]
        return squash(np.max(np.stack([s, *rest]), 0))

    return rule


def rule_smoothed(inner: Rule, sigma: float) -> Rule:
    """`inner` then causal Gaussian smoothing of the fused score (not what the worker can do:
    its windows carry no past fused scores; an upper bound for per-term smoothing)."""
    return lambda t: smooth_scores(inner(t), sigma, causal=True)


def rule_term_smoothed(names: list[str], sigmas: dict[str, float]) -> Rule:
    """Each term's calibrated score smoothed causally (sigma per term) before the max: an
    approximation of a longer `smoothing_frames` in that model (which would also recalibrate)."""

    def rule(t):
        s = []
        for n in names:
            if n in t:
                x = np.nan_to_num(t[n])
                s.append(surprise(smooth_scores(x, sigmas.get(n, 0.0), causal=True)))
        return squash(np.stack(s).max(0))

    return rule


def window_mean(x: np.ndarray, behind: int, ahead: int, kernel: str) -> np.ndarray:
    """Mean of each frame's window [t - behind, t + ahead] (box, or a Gaussian with its edge at 2
    sigma), NaN neighbours ignored, the window shrinking at the clip's ends; NaN stays NaN."""
    offsets = np.arange(-behind, ahead + 1)
    if kernel == "box":
        weights = np.ones(offsets.size)
    else:
        sigma = max(behind, ahead) / 2.0
        weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    valid = np.isfinite(x)
    values = np.pad(np.where(valid, x, 0.0), (behind, ahead))
    mask = np.pad(valid.astype(np.float64), (behind, ahead))
    num = np.correlate(values, weights, mode="valid")
    den = np.correlate(mask, weights, mode="valid")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~valid] = np.nan
    return out


def rule_ahead(inner: Rule, behind: int, ahead: int, kernel: str) -> Rule:
    """`inner` (the fused score), then a window of `behind` past and `ahead` future frames: the
    frame's score is final `ahead` frames later."""
    return lambda t: window_mean(inner(t), behind, ahead, kernel)


def rule_terms_ahead(names: list[str], behind: int, ahead: int, kernel: str) -> Rule:
    """Each term's calibrated score through the same window before the max."""

    def rule(t):
        s = [
            surprise(window_mean(np.nan_to_num(t[n]), behind, ahead, kernel))
            for n in names
            if n in t
        ]
        return squash(np.stack(s).max(0))

    return rule


def evaluate(data: dict, rule: Rule) -> dict[str, tuple[float, float, float]]:
    out = {}
    allys, allss, allpv, allfa = [], [], [], []
    for kind, clips in data.items():
        ys, ss, pv = [], [], []
        for terms in clips.values():
            y = terms["labels"].astype(int)
            s = rule(terms)
            ys.append(y)
            ss.append(s)
            if 0 < y.sum() < len(y):
                pv.append(frame_metrics(y, s)["auc"])
        y, s = np.concatenate(ys), np.concatenate(ss)
        fa = float(np.mean(s[y == 0] >= 0.5))
        out[kind] = (frame_metrics(y, s)["auc"], float(np.mean(pv)), fa)
        allys += ys
        allss += ss
        allpv += pv
        allfa.append(fa)
    y, s = np.concatenate(allys), np.concatenate(allss)
    out["all"] = (frame_metrics(y, s)["auc"], float(np.mean(allpv)), float(np.mean(allfa)))
    return out


TERMS = ["pixel", "velocity", "objects"]
RULES: dict[str, Rule] = {
    "pixel": rule_max(["pixel"]),
    "velocity": rule_max(["velocity"]),
    "objects": rule_max(["objects"]),
    "max(pixel, velocity)": rule_max(["pixel", "velocity"]),
    "max(all): main": rule_max(TERMS),
    "sum(all)": rule_sum(TERMS),
    "sum(pixel, velocity)": rule_sum(["pixel", "velocity"]),
    "max, objects x0.5": rule_max(TERMS, {"objects": 0.5}),
    "max, objects x0.75": rule_max(TERMS, {"objects": 0.75}),
    "max, pixel x0.75": rule_max(TERMS, {"pixel": 0.75}),
    "max, velocity x0.75": rule_max(TERMS, {"velocity": 0.75}),
    "max, velocity x1.25": rule_max(TERMS, {"velocity": 1.25}),
    "max, pixel x1.25": rule_max(TERMS, {"pixel": 1.25}),
    "fisher(p, v), max objects": rule_fisher_then_max(["pixel", "velocity"], ["objects"]),
    "fisher(p, v)": rule_fisher_then_max(["pixel", "velocity"], []),
    "max, velocity x1.5": rule_max(TERMS, {"velocity": 1.5}),
    "max then causal sigma 2": rule_smoothed(rule_max(TERMS), 2.0),
    "max then causal sigma 4": rule_smoothed(rule_max(TERMS), 4.0),
    "terms sigma +2 (p, v)": rule_term_smoothed(TERMS, {"pixel": 2.0, "velocity": 2.0}),
    "objects sigma 2": rule_term_smoothed(TERMS, {"objects": 2.0}),
    "objects sigma 4": rule_term_smoothed(TERMS, {"objects": 4.0}),
}
LOOK_AHEAD = [2, 3, 4, 6, 10]
AHEAD_RULES: dict[str, Rule] = {"max(all): main": rule_max(TERMS)}
for _ahead in LOOK_AHEAD:
    for _kernel in ("box", "gauss"):
        for _behind in (0, _ahead):
            _window = f"P{_behind} L{_ahead} {_kernel}"
            AHEAD_RULES[f"fused {_window}"] = rule_ahead(rule_max(TERMS), _behind, _ahead, _kernel)
            AHEAD_RULES[f"terms {_window}"] = rule_terms_ahead(TERMS, _behind, _ahead, _kernel)


def main() -> None:
    args = sys.argv[1:]
    rules = RULES
    if args and args[0] == "--ahead":
        args, rules = args[1:], AHEAD_RULES
    for path in args:
        data = load(path)
        kinds = [*data, "all"]
        print(path)
        print(f"  {'rule':28s} " + " ".join(f"{k:>19s}" for k in kinds))
        for name, rule in rules.items():
            r = evaluate(data, rule)
            cells = " ".join(f"{r[k][0]:.3f}/{r[k][1]:.3f}/{100 * r[k][2]:4.1f}" for k in kinds)
            print(f"  {name:28s} {cells}", flush=True)


if __name__ == "__main__":
    main()
