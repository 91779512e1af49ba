"""Research bench for the object-centric stage 1 (cached flows from bench/stage1_cache.py).

Prints, per dataset, pooled AUC and mean per-video AUC of the reference (per-cell flow magnitude
over the cell's training 99.5th percentile) and of the variants under study. Reads test labels:
every run is a look at the test set (record it in docs/benchmarks-normality.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import uniform_filter1d

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from vad.eval.metrics import frame_metrics, per_video_auc  # noqa: E402

CACHE = Path("/tmp/stage1-cache")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load(dataset: str, split: str) -> dict[str, dict]:
    out = {}
    for p in sorted((CACHE / dataset / split).glob("*.npz")):
        z = np.load(p)
        out[p.stem] = {"grey": z["grey"], "flow": z["flow"].astype(np.float32)}
    return out


def labels(dataset: str) -> dict[str, np.ndarray]:
    doc = json.loads((DATA / dataset / "test_labels.json").read_text())
    return {k: np.asarray(v["labels"]) for k, v in doc["videos"].items()}


def report(name: str, lab: dict, scores: dict) -> dict:
    y = np.concatenate([lab[k][: len(scores[k])] for k in scores])
    s = np.concatenate([scores[k][: len(lab[k])] for k in scores])
    pv = per_video_auc({k: lab[k][: len(scores[k])] for k in scores}, scores)
    r = {
        "auc": round(frame_metrics(y, s)["auc"], 4),
        "per_video": round(float(np.mean(list(pv.values()))), 4),
    }
    print(f"  {name:40s} pooled {r['auc']:.4f}  per-video {r['per_video']:.4f}", flush=True)
    return r


# ---------- reference (issue 17): 6x9 grid mean magnitude / cell 99.5th pct, max, 9-frame mean
def ref_cells(flow: np.ndarray) -> np.ndarray:
    m = np.linalg.norm(flow, axis=-1)
    h, w = m.shape
    ys = np.linspace(0, h, 7).astype(int)
    xs = np.linspace(0, w, 10).astype(int)
    return np.array(
        [[m[ys[i] : ys[i + 1], xs[j] : xs[j + 1]].mean() for j in range(9)] for i in range(6)]
    ).ravel()


def reference(train: dict, test: dict) -> dict:
    cells = np.concatenate([[ref_cells(f) for f in v["flow"]] for v in train.values()])
    q = np.quantile(cells, 0.995, axis=0) + 1e-3
    out = {}
    for k, v in test.items():
        s = np.array([(ref_cells(f) / q).max() for f in v["flow"]])
        out[k] = uniform_filter1d(s, 9, mode="nearest")
    return out


# ---------- shared pieces of the variants
CELL = 8


def cell_means(m: np.ndarray) -> np.ndarray:
    """(H/CELL, W/CELL) mean magnitude per cell (edge rows/cols dropped)."""
    h, w = m.shape[0] // CELL * CELL, m.shape[1] // CELL * CELL
    return m[:h, :w].reshape(h // CELL, CELL, w // CELL, CELL).mean(axis=(1, 3))


def smooth_causal(s: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    r = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(r + 1) / sigma) ** 2)
    out = np.empty_like(s)
    for i in range(len(s)):
        seg = s[max(0, i - r) : i + 1][::-1]
        kk = k[: len(seg)]
        out[i] = (seg * kk).sum() / kk.sum()
    return out


def smooth_centred(s: np.ndarray, n: int = 9) -> np.ndarray:
    return uniform_filter1d(s, n, mode="nearest")


class PerspectiveNorm:
    """Per-cell speed normaliser: the cell's own high quantile of training cell-mean speed, with
    a perspective prior (log speed linear in the row) where the cell saw too little motion."""

    def __init__(self, q: float = 0.99, prior_weight: float = 1.0):
        self.q, self.prior_weight = q, prior_weight

    def fit(self, flows: list[np.ndarray]) -> PerspectiveNorm:
        cm = np.stack([cell_means(np.linalg.norm(f, axis=-1)) for fl in flows for f in fl[1:]])
        self.cell_q = np.quantile(cm, self.q, axis=0) + 1e-3
        rows = np.arange(cm.shape[1])
        # perspective prior: per row, the quantile over all cells of the row; log-linear fit in row
        row_q = np.quantile(cm.transpose(1, 0, 2).reshape(cm.shape[1], -1), self.q, axis=1) + 1e-3
        busy = row_q >= 0.5 * np.median(row_q)
        b, a = np.polyfit(rows[busy], row_q[busy], 1)
        top = row_q[busy].max()
        self.prior = np.clip(a + b * rows, 0.2 * top, 1.5 * top)[:, None] * np.ones_like(
            self.cell_q
        )
        self.norm = np.maximum(self.cell_q, self.prior_weight * self.prior)
        return self

    def pixel_scale(self, shape) -> np.ndarray:
        return cv2.resize(
            self.prior.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR
        )


def max_cell(flow_clip, norm) -> np.ndarray:
    return np.array([(cell_means(np.linalg.norm(f, axis=-1)) / norm).max() for f in flow_clip])


# ---------- training-only proxy: pseudo-anomalies pasted into held-out training clips
def farneback(greys: np.ndarray) -> np.ndarray:
    out = [np.zeros((*greys[0].shape, 2), np.float32)]
    out += [
        cv2.calcOpticalFlowFarneback(greys[i - 1], greys[i], None, 0.5, 3, 9, 3, 5, 1.1, 0)
        for i in range(1, len(greys))
    ]
    return np.stack(out)


def paste_mover(
    greys: np.ndarray, seed: int, size: tuple[float, float], speed: float, textured: bool
) -> np.ndarray:
    """A box (size = (h, w) fractions of the frame) crossing the middle band at `speed` (fraction
    of the frame width per frame): textured = a crop of the scene itself with a dark outline (an
    object that looks like the scene but moves unusually), else a uniform shade (a cart)."""
    rng = np.random.default_rng(seed)
    h, w = greys[0].shape
    bh, bw = max(3, int(size[0] * h)), max(3, int(size[1] * w))
    y = int(rng.uniform(0.35, 0.75) * h)
    y = min(y, h - bh)
    x0, d = rng.uniform(0, w - bw), rng.choice([-1, 1])
    sy, sx = int(rng.uniform(0, h - bh)), int(rng.uniform(0, w - bw))
    patch = (
        greys[0][sy : sy + bh, sx : sx + bw].copy()
        if textured
        else np.full((bh, bw), int(rng.choice([40, 210])), np.uint8)
    )
    patch[[0, -1], :] = 255 - patch.mean()
    patch[:, [0, -1]] = 255 - patch.mean()
    out = greys.copy()
    for i in range(len(out)):
        x = int(round((x0 + d * speed * w * i) % (w - bw)))
        out[i, y : y + bh, x : x + bw] = patch
    return out


PSEUDO = {
    "2x": lambda g, s: g[::2],
    "1.5x": lambda g, s: g[np.arange(len(g)) % 3 != 2],
    "fast": lambda g, s: paste_mover(g, s, (0.14, 0.05), 0.025, True),
    "cart": lambda g, s: paste_mover(g, s, (0.10, 0.16), 0.006, False),
}


def proxy(train: dict, variants: dict, folds: int = 4) -> None:
    names = sorted(train)
    fold_of = {n: i * folds // len(names) for i, n in enumerate(names)}
    res = {v: {p: [] for p in ["fa"] + list(PSEUDO)} for v in variants}
    for f in range(folds):
        fit = {n: train[n] for n in names if fold_of[n] != f}
        held = {n: train[n] for n in names if fold_of[n] == f}
        pseudo = {p: {} for p in PSEUDO}
        for j, (n, c) in enumerate(held.items()):
            for p, make in PSEUDO.items():
                g = make(c["grey"], j)
                pseudo[p][n] = {"grey": g, "flow": farneback(g)}
        for vname, build in variants.items():
            score = build(fit)
            normal = np.concatenate([score(c) for c in held.values()])
            for p in PSEUDO:
                anom = np.concatenate([score(c) for c in pseudo[p].values()])
                y = np.r_[np.zeros(len(normal)), np.ones(len(anom))]
                res[vname][p].append(frame_metrics(y, np.r_[normal, anom])["auc"])
    for v, r in res.items():
        print(
            f"  {v:40s} " + "  ".join(f"{p} {np.mean(x):.3f}" for p, x in r.items() if x),
            flush=True,
        )


def v_reference(fit):
    cells = np.concatenate([[ref_cells(f) for f in v["flow"]] for v in fit.values()])
    q = np.quantile(cells, 0.995, axis=0) + 1e-3
    return lambda c: smooth_causal(np.array([(ref_cells(f) / q).max() for f in c["flow"]]))


def v_maxcell(q=0.99, prior_weight=1.0):
    def build(fit):
        pn = PerspectiveNorm(q, prior_weight).fit([c["flow"] for c in fit.values()])
        return lambda c: smooth_causal(max_cell(c["flow"], pn.norm))

    return build


def blob_features(flow, scale, t, min_area=4):
    """Per moving blob: [log mean normalised speed, log max normalised speed, log area over
    the perspective-expected area, mean flow direction (cos, sin) x 0.5] (vectorised)."""
    m = np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2)
    u = m / scale
    mask = (u > t).astype(np.uint8)
    n, lab, stats, cent = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return np.zeros((0, 5), np.float32)
    lab = lab.ravel()
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    su = np.bincount(lab, u.ravel(), n)
    mx = np.zeros(n)
    np.maximum.at(mx, lab, u.ravel())
    fx = np.bincount(lab, flow[..., 0].ravel(), n)
    fy = np.bincount(lab, flow[..., 1].ravel(), n)
    cy = np.clip(cent[:, 1].astype(int), 0, scale.shape[0] - 1)
    s = scale[cy, 0]
    nrm = np.hypot(fx, fy) + 1e-6
    f = np.stack(
        [
            np.log(su / area),
            np.log(mx),
            np.log(area / (s * s * 100)),
            0.5 * fx / nrm,
            0.5 * fy / nrm,
        ],
        1,
    )
    keep = area >= min_area
    keep[0] = False
    return f[keep].astype(np.float32)


class BlobKNN:
    def __init__(self, t=0.3, k=3, cols=(0, 1, 2), max_bank=4096):
        self.t, self.k, self.cols, self.max_bank = t, k, list(cols), max_bank

    def fit(self, clips):
        self.pn = PerspectiveNorm(0.99, 1.0).fit([c["flow"] for c in clips])
        shape = clips[0]["flow"].shape[1:3]
        self.scale = self.pn.pixel_scale(shape)
        bank = np.concatenate(
            [blob_features(f, self.scale, self.t) for c in clips for f in c["flow"][1:]]
        )
        rng = np.random.default_rng(0)
        if len(bank) > self.max_bank:
            bank = bank[rng.choice(len(bank), self.max_bank, replace=False)]
        self.bank = bank[:, self.cols]
        self.sd = self.bank.std(axis=0) + 1e-6
        self.bank = self.bank / self.sd
        return self

    def frame(self, flow):
        f = blob_features(flow, self.scale, self.t)
        if len(f) == 0:
            return 0.0
        x = f[:, self.cols] / self.sd
        d = ((x[:, None, :] - self.bank[None]) ** 2).sum(-1)
        kd = np.sqrt(np.partition(d, self.k - 1, axis=1)[:, self.k - 1])
        return float(kd.max())

    def score(self, c):
        return smooth_causal(np.array([self.frame(f) for f in c["flow"]]))


def v_blob(**kw):
    def build(fit):
        m = BlobKNN(**kw).fit(list(fit.values()))
        return m.score

    return build


VARIANTS = {
    "reference (causal smoothing)": v_reference,
    "blob t.3 k3 speed+area": v_blob(t=0.3),
    "blob t.3 k3 speed+area+dir": v_blob(t=0.3, cols=(0, 1, 2, 3, 4)),
    "maxcell q.999 prior 1": v_maxcell(0.999, 1.0),
}


def main_proxy(datasets, only=None):
    for ds in datasets:
        print(ds, "proxy", flush=True)
        proxy(load(ds, "train"), {k: v for k, v in VARIANTS.items() if not only or k in only})


def product_velocity(train: dict, test: dict, **config) -> tuple[dict, float, float]:
    """The product's VelocityModel (vad/scoring/velocity.py) on cached greys: scores, fit s, fps."""
    import time

    from vad.scoring.velocity import VelocityConfig, fit_velocity_from_greys

    cfg = VelocityConfig(**config)
    t = time.process_time()
    model = fit_velocity_from_greys([list(c["grey"]) for c in train.values()], (0, 0), cfg)
    fit_s = time.process_time() - t
    t, n = time.process_time(), 0
    out = {}
    for k, c in test.items():
        raw = smooth_scores_product(model.frame_novelty(list(c["grey"])), cfg.smoothing_frames)
        out[k] = model.calibrator(raw)
        n += len(raw)
    return out, fit_s, n / (time.process_time() - t)


def smooth_scores_product(x, sigma):
    from vad.scoring.normality.smoothing import smooth_scores

    return smooth_scores(x, sigma, causal=True)


def main_reference(datasets: list[str]) -> None:
    for ds in datasets:
        tr, te, lab = load(ds, "train"), load(ds, "test"), labels(ds)
        print(ds, flush=True)
        report("reference", lab, reference(tr, te))


def main_test(datasets: list[str]) -> None:
    for ds in datasets:
        tr, te, lab = load(ds, "train"), load(ds, "test"), labels(ds)
        print(ds, flush=True)
        report("reference (centred, as the issue)", lab, reference(tr, te))
        scores, fit_s, fps = product_velocity(tr, te)
        report(f"velocity model (fit {fit_s:.0f} s, {fps:.0f} fps)", lab, scores)
        np.savez(CACHE / f"velocity_{ds}.npz", **scores)


def main_robust(datasets: list[str]) -> None:
    """Half the frame rate: every second frame of train and test (labels too)."""
    for ds in datasets:
        tr, te, lab = load(ds, "train"), load(ds, "test"), labels(ds)
        half = lambda d: {k: {"grey": v["grey"][::2]} for k, v in d.items()}  # noqa: E731
        print(ds, "half frame rate", flush=True)
        scores, fit_s, fps = product_velocity(half(tr), half(te))
        report("velocity model, every 2nd frame", {k: v[::2] for k, v in lab.items()}, scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", help="dataset names cached by stage1_cache.py")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--proxy", action="store_true", help="the variants on the training proxy")
    mode.add_argument("--test", action="store_true", help="the product's velocity model (a look)")
    mode.add_argument("--robust", action="store_true", help="the same at half the frame rate")
    args = parser.parse_args()
    run = (
        main_proxy
        if args.proxy
        else main_test
        if args.test
        else main_robust
        if args.robust
        else main_reference
    )
    run(args.datasets)


if __name__ == "__main__":
    main()
