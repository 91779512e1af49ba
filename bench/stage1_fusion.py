"""Fusion rules of stage 1's calibrated terms, compared on the training-only proxy's stored
scores (`bench/stage1_proxy.py --out`; no test label is read).

Per rule and pseudo-anomaly kind: pooled AUC over the held-out clips (each clip with its pasted
segment, normal frames before and after), mean per-clip AUC, and the share of the segments'
normal frames at or above 0.5 (false alarms at the incident threshold).

    python bench/stage1_fusion.py /tmp/proxy-ped2.npz /tmp/proxy-ped1.npz

A model variant against its baseline (both runs of the proxy on the same clips and folds): per
term and the fused stage 1, AUC, the share of normal frames >= 0.5 (all of them, those before
the pasted segment, and those of the held-out clips where most moves: crowded normal frames are
where a more sensitive motion model pays). Its last row, "stage 1 + look-ahead", is the fused
score as `Stage1.score` returns it (the max, then the product's look-ahead); the rows above it
are the terms and plain maxes as stored:

    python bench/stage1_fusion.py --compare BASE.npz VARIANT.npz --data ../shared/data/ucsd_ped2

Look-ahead rounds: the fused score (or each term) through a window of P past, L future frames,
then round 2's comparison of the product's look-ahead (fused, box, P = 0) for L = 2..6 against
L = 2 and its rule's verdict (the proxies of both datasets together):

    python bench/stage1_fusion.py --ahead /tmp/proxy-ped2.npz /tmp/proxy-ped1.npz

Conditions round: the fused stage 1 (max of the terms) of each stored run side by side (`bench/
stage1_proxy.py --condition`'s files: clean, dim, noise, jpeg): all kinds pooled AUC, each kind's
pooled AUC, the share of normal frames >= 0.5 and, of those alarms, the share where each term is
>= 0.5 itself (which term fired) and where it is the largest:

    python bench/stage1_fusion.py --conditions /tmp/proxy-ped2-clean.npz /tmp/proxy-ped2-dim.npz
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from service.settings import Settings  # noqa: E402
from vad.eval.metrics import frame_metrics  # noqa: E402
from vad.scoring.look_ahead import look_ahead, media_times  # noqa: E402
from vad.scoring.normality.smoothing import smooth_scores  # noqa: E402
from vad.scoring.normality.smoothing import window_mean as weighted_window_mean  # noqa: E402

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
    return weighted_window_mean(np.asarray(x, dtype=np.float64), weights, behind, ahead)


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


ROUND2_AHEAD = [2, 3, 4, 5, 6]  # analysed frames at 10 fps: main's 0.2 s, then up to the 0.6 s cap


def round2_failures(base: dict, cand: dict) -> list[str]:
    """Look-ahead round 2's conditions on one dataset (docs/benchmarks-normality.md, written
    before the runs), `cand` against `base` (L = 2), on unrounded figures: what fails, if any."""
    fails = [
        f"{what} gain < 0.002"
        for i, what in ((0, "pooled"), (1, "per-clip"))
        if cand["all"][i] - base["all"][i] < 0.002
    ]
    if cand["all"][2] - base["all"][2] > 0.001:
        fails.append("normal >= 0.5 up > 0.1 point")
    fails += [
        f"{kind} pooled down > 0.005"
        for kind in base
        if kind != "all" and cand[kind][0] - base[kind][0] < -0.005
    ]
    return fails


def round2_choice(gains: dict[int, list[float]], failures: dict[int, list[str]]) -> int:
    """Round 2's pick (`failures`: the datasets where an L fails): among the L that pass on
    every dataset, the largest smaller pooled gain; within 0.001 of it, the shorter L; none
    passing: L = 2 stays."""
    passing = {n: min(g) for n, g in gains.items() if not failures[n]}
    if not passing:
        return ROUND2_AHEAD[0]
    best = max(passing.values())
    return min(n for n, g in passing.items() if g >= best - 0.001)


def ahead_round2(paths: list[str]) -> None:
    """The product's look-ahead (`rule_ahead` fused, box, P = 0: `vad.scoring.look_ahead`) for
    each L against L = 2, per dataset: all kinds pooled / per clip / normal >= 0.5 and each
    kind's pooled AUC with their changes, what fails; then the verdict over all datasets."""
    first, *candidates = ROUND2_AHEAD
    gains: dict[int, list[float]] = defaultdict(list)
    failures: dict[int, list[str]] = defaultdict(list)
    print(f"look-ahead round 2: fused box P0, L analysed frames ahead, against L = {first}")
    for path in paths:
        data = load(path)
        r = {n: evaluate(data, rule_ahead(rule_max(TERMS), 0, n, "box")) for n in ROUND2_AHEAD}
        base = r[first]
        print(f"{path}\n  L  all: pooled/clip/normal (change)  each kind pooled (change)")
        for n, res in r.items():
            (a, c, f), (a0, c0, f0) = res["all"], base["all"]
            kinds = " ".join(f"{k} {res[k][0]:.3f} ({res[k][0] - base[k][0]:+.3f})" for k in data)
            fails = round2_failures(base, res)
            if n != first:
                gains[n].append(a - a0)
                failures[n] += [Path(path).stem] if fails else []
            verdict = "baseline" if n == first else "; ".join(fails) or "passes"
            print(
                f"  {n}  {a:.4f}/{c:.4f}/{100 * f:5.2f} % ({a - a0:+.4f}/{c - c0:+.4f}/"
                f"{100 * (f - f0):+.2f})  {kinds}  {verdict}"
            )
    for n in candidates:
        state = f"fails on {', '.join(failures[n])}" if failures[n] else "passes on every dataset"
        print(f"  L = {n}: smaller pooled gain {min(gains[n]):+.4f}, {state}")
    print(f"  round 2's verdict: L = {round2_choice(gains, failures)} analysed frames")


def busyness(data: Path, clips: list[str]) -> dict[str, float]:
    """Per training clip, how much moves in it (`bench.stage1_proxy.busyness`, the measure its
    `--busiest` split ranks clips by): how crowded the clip is, no flow needed."""
    from bench.stage1_proxy import busyness as clip_busyness
    from vad.video import analysed_frames

    fps = Settings().ingest.default_fps
    return {
        name: clip_busyness(analysed_frames(data / "train" / f"{name}.mp4", fps).frames)
        for name in clips
    }


def normal_alarms(data: dict, rule: Rule, clips: set[str] | None = None) -> tuple[float, float]:
    """Share of normal frames >= 0.5 under `rule`: all normal frames, and those before the
    pasted segment only (no after-effect of the pseudo-anomaly), over `clips` (default all)."""
    alarms, before = [], []
    for per_clip in data.values():
        for name, terms in per_clip.items():
            if clips is not None and name not in clips:
                continue
            y, s = terms["labels"].astype(int), rule(terms)
            alarms.append(s[y == 0] >= 0.5)
            first = int(np.argmax(y)) if y.any() else len(y)
            before.append(s[:first] >= 0.5)
    return float(np.mean(np.concatenate(alarms))), float(np.mean(np.concatenate(before)))


# A term only one run has (the appearance model, on in the variant) gets its own row and joins
# that run's fused stage 1 (`rule_max` fuses the named terms a clip has).
OPTIONAL = ["appearance"]
AS_SCORED = "stage 1 + look-ahead"  # the row that is what `Stage1.score` returns
COMPARED = {
    "pixel": ["pixel"],
    "velocity": ["velocity"],
    "objects": ["objects"],
    "appearance": ["appearance"],
    "max(pixel, velocity)": ["pixel", "velocity"],
    "max(all): stage 1": TERMS + OPTIONAL,
    AS_SCORED: TERMS + OPTIONAL,
}


def product_look_ahead(inner: Rule) -> Rule:
    """`inner`, then the product's look-ahead (`scoring.look_ahead_seconds` at the analysis rate
    the proxy scored at) exactly as `Stage1.score` applies it after the fusion."""
    settings = Settings()
    seconds, fps = settings.scoring.look_ahead_seconds, settings.ingest.default_fps
    return lambda t: look_ahead(inner(t), media_times(len(t["labels"]), fps), seconds)


def row_rule(name: str, terms: list[str]) -> Rule:
    """The fusion rule of one `COMPARED` row."""
    rule = rule_max(terms)
    return product_look_ahead(rule) if name == AS_SCORED else rule


def stored_terms(run: dict) -> set[str]:
    """Every term name a loaded run stores for some clip and kind (and its labels)."""
    return {k for per_clip in run.values() for terms in per_clip.values() for k in terms}


def compare(base_path: str, variant_path: str, data: Path | None, crowded: int = 3) -> None:
    """Baseline against variant, per term and fused: AUC (all kinds pooled / per clip), normal
    frames >= 0.5 (all / before the segment) and on the `crowded` busiest held-out clips."""
    base, variant = load(base_path), load(variant_path)
    clips = sorted({c for per_clip in base.values() for c in per_clip})
    busiest: set[str] = set()
    if data is not None:
        busy = busyness(data, clips)
        busiest = set(sorted(clips, key=lambda c: -busy[c])[:crowded])
        print(
            "  busiest held-out clips: "
            + ", ".join(
                f"{c} {100 * busy[c]:.1f} %" for c in sorted(busiest, key=lambda c: -busy[c])
            )
        )
    print(
        f"  {'term':22s} {'AUC pooled/clip':>31s} {'normal >= 0.5 all':>23s} "
        f"{'before segment':>21s} {'busiest clips':>19s}"
    )

    runs = [(run, stored_terms(run)) for run in (base, variant)]
    for name, terms in COMPARED.items():
        needed = [t for t in terms if t not in OPTIONAL] or terms
        if not any(have.issuperset(needed) for _, have in runs):
            continue  # a run without that model (e.g. VAD_VELOCITY__ENABLED=false)
        rule, cells = row_rule(name, terms), []
        for data_, have in runs:
            if not have.issuperset(needed):
                cells.append((float("nan"),) * 5)
                continue
            r = evaluate(data_, rule)["all"]
            fa, pre = normal_alarms(data_, rule)
            crowd = normal_alarms(data_, rule, busiest)[0] if busiest else float("nan")
            cells.append((r[0], r[1], fa, pre, crowd))
        (a0, p0, f0, b0, c0), (a1, p1, f1, b1, c1) = cells
        print(
            f"  {name:22s} {a0:.3f}/{p0:.3f} -> {a1:.3f}/{p1:.3f}   "
            f"{100 * f0:5.2f} -> {100 * f1:5.2f} %  {100 * b0:5.2f} -> {100 * b1:5.2f} %  "
            f"{100 * c0:5.2f} -> {100 * c1:5.2f} %",
            flush=True,
        )


def fired_terms(data: dict, terms: list[str]) -> dict[str, tuple[float, float]]:
    """Of the normal frames whose fused score (max of `terms`) is >= 0.5: per term, the share
    where that term is >= 0.5 itself and the share where it is the largest term."""
    over, top = defaultdict(list), defaultdict(list)
    for per_clip in data.values():
        for values in per_clip.values():
            present = [t for t in terms if t in values]
            normal = values["labels"] == 0
            scores = stack(values, present)[:, normal]
            alarm = scores.max(0) >= 0.5
            largest = scores.argmax(0)
            for i, term in enumerate(present):
                over[term].append(scores[i, alarm] >= 0.5)
                top[term].append(largest[alarm] == i)
    return {
        t: (float(np.mean(np.concatenate(over[t]))), float(np.mean(np.concatenate(top[t]))))
        if sum(map(len, over[t]))
        else (float("nan"), float("nan"))
        for t in over
    }


def conditions(paths: list[str]) -> None:
    """The fused stage 1 of each stored run: pooled AUC (all kinds, each kind), normal frames
    >= 0.5 and which term fired on them (>= 0.5 itself / the largest)."""
    for path in paths:
        data = load(path)
        r = evaluate(data, rule_max(TERMS))
        alarms = normal_alarms(data, rule_max(TERMS))[0]
        kinds = " ".join(f"{k} {r[k][0]:.4f}" for k in data)
        fired = " ".join(
            f"{t} {100 * o:.0f}/{100 * m:.0f} %" for t, (o, m) in fired_terms(data, TERMS).items()
        )
        print(
            f"{Path(path).stem}: pooled {r['all'][0]:.4f} per clip {r['all'][1]:.4f} | {kinds} | "
            f"normal >= 0.5 {100 * alarms:.2f} % | fired (>= 0.5 / largest): {fired}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scores", nargs="*", help="stored proxy scores (stage1_proxy.py --out)")
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("BASE", "VARIANT"),
        help="two stored runs of the same split: a model variant against its baseline",
    )
    parser.add_argument("--data", type=Path, help="with --compare: the dataset (busiest clips)")
    parser.add_argument(
        "--ahead", action="store_true", help="the look-ahead round's rules instead of fusion's"
    )
    parser.add_argument(
        "--conditions",
        action="store_true",
        help="conditions round: the fused stage 1 of each stored run and which term fired",
    )
    args = parser.parse_args()
    if args.conditions:
        conditions(args.scores)
        return
    if args.compare:
        compare(args.compare[0], args.compare[1], args.data)
        return
    if not args.scores:
        parser.error("give stored scores, or --compare BASE VARIANT")
    rules = AHEAD_RULES if args.ahead else RULES
    for path in args.scores:
        data = load(path)
        kinds = [*data, "all"]
        print(path)
        print(f"  {'rule':28s} " + " ".join(f"{k:>19s}" for k in kinds))
        for name, rule in rules.items():
            r = evaluate(data, rule)
            cells = " ".join(f"{r[k][0]:.3f}/{r[k][1]:.3f}/{100 * r[k][2]:4.1f}" for k in kinds)
            print(f"  {name:28s} {cells}", flush=True)
    if args.ahead:
        ahead_round2(args.scores)


if __name__ == "__main__":
    main()
