"""Training-only proxy of the whole default stage 1 (no test label is read).

Why: the older proxies (`bench/normality.py --proxy`, `bench/stage1_research.py --proxy`) score
one model at a time and paste pseudo-anomalies into whole held-out clips, so any temporal
integration wins on them and the fusion of the terms is never seen. This one fits `Stage1`
exactly as `vad eval` does (every model the worker would run with the installed encoders) on all
but one fold of a dataset's training clips, and scores the held-out clips with a pseudo-anomaly
pasted into their middle half only (normal frames before and after, as in a real test clip), so
onsets, offsets and the max fusion of terms of different sharpness all count. Every term's
calibrated score per frame is kept (`--out`), so fusion rules can be compared offline
(`bench/stage1_fusion.py`).

Pseudo-anomalies (frame fractions; `paste_box` below):
* fast  a textured crop of the scene (0.14 x 0.05) crossing the walkway band at 2.5 % of the width
        a frame: a cyclist;
* cart  a uniform box (0.10 x 0.16) at 0.6 % a frame: a cart or a vehicle at walking pace;
* far   a small textured crop (0.06 x 0.025) in the top third at 1 % a frame: a far cyclist on a
        camera with perspective (people far away move few pixels);
* speed the clip's own frames, every second one dropped in the segment: everyone runs.

    VAD_MODEL_DIR=... OMP_NUM_THREADS=1 VAD_ENCODERS__THREADS=1 nice -n 10 \
        python bench/stage1_proxy.py ../shared/data/ucsd_ped2 --folds 2 --out /tmp/proxy-ped2.npz

`--shake 0.01` shakes every clip as the suite's camera-shake row does (`vad.eval.conditions.shaken`,
seeded by the clip's name), the fitting clips and the held-out ones alike; a held-out clip is
shaken after its pseudo-anomaly is pasted, so the box moves with the scene as a real object would.

`--condition dim,noise,jpeg` (conditions round; `vad.eval.conditions`): the camera learned in one
condition is scored in another. The fitting clips stay clean; each held-out clip, once its
pseudo-anomaly is pasted (and shaken, with `--shake`), is scored clean and in every condition
asked, seeded by the clip's name, from the one fit of its fold. One file per condition, `--out`'s
name with `-clean`, `-dim` ... before the suffix, each readable by `bench/stage1_fusion.py`
(`--conditions CLEAN.npz DIM.npz ...` summarises them side by side).
`--busiest` holds out the busiest quarter of the clips (most pixels changing) in one fold and
fits on the quieter rest: a crowd the camera learned little of, as a test set's crowds are.

`--learn-in noise` puts every second fitting clip in that condition too: a camera whose learning
footage spans the condition (a day of footage includes its night) against one that learned
clean only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from service.settings import Settings  # noqa: E402
from vad.eval.conditions import CONDITIONS, in_condition, shaken  # noqa: E402
from vad.eval.stage1 import Stage1, installed_encoders  # noqa: E402
from vad.video import analysed_frames  # noqa: E402

# (box height, box width) as fractions of the frame, speed (width fraction a frame), textured,
# vertical band of the box's top edge
BOXES = {
    "fast": ((0.14, 0.05), 0.025, True, (0.35, 0.75)),
    "cart": ((0.10, 0.16), 0.006, False, (0.35, 0.75)),
    "far": ((0.06, 0.025), 0.010, True, (0.08, 0.30)),
}
KINDS = [*BOXES, "speed"]


def segment(n: int) -> tuple[int, int]:
    """The pseudo-anomaly's frames [start, stop): the clip's middle half."""
    return n // 4, n // 4 + max(1, n // 2)


def paste_box(frames: list[np.ndarray], seed: int, kind: str) -> tuple[list, np.ndarray]:
    """The clip with a box of `kind` crossing during its middle half, and per-frame labels."""
    (fh, fw), speed, textured, band = BOXES[kind]
    rng = np.random.default_rng(seed)
    h, w = frames[0].shape[:2]
    bh, bw = max(3, int(fh * h)), max(3, int(fw * w))
    y = min(int(rng.uniform(*band) * h), h - bh)
    x0, d = rng.uniform(0, w - bw), rng.choice([-1, 1])
    sy, sx = int(rng.uniform(0, h - bh)), int(rng.uniform(0, w - bw))
    if textured:
        patch = frames[0][sy : sy + bh, sx : sx + bw].copy()
    else:
        patch = np.full((bh, bw, 3), int(rng.choice([40, 210])), np.uint8)
    edge = np.uint8(255 - int(patch.mean()))
    patch[[0, -1], :] = edge
    patch[:, [0, -1]] = edge
    start, stop = segment(len(frames))
    out, labels = [], np.zeros(len(frames), np.int8)
    for i, frame in enumerate(frames):
        if start <= i < stop:
            x = int(round((x0 + d * speed * w * (i - start)) % (w - bw)))
            frame = frame.copy()
            frame[y : y + bh, x : x + bw] = patch
            labels[i] = 1
        out.append(frame)
    return out, labels


def sped_up(frames: list[np.ndarray]) -> tuple[list, np.ndarray]:
    """Every second frame of the middle half dropped (labelled), the rest as recorded."""
    start, stop = segment(len(frames))
    keep = [i for i in range(len(frames)) if not (start <= i < stop and (i - start) % 2)]
    labels = np.array([1 if start <= i < stop else 0 for i in keep], np.int8)
    return [frames[i] for i in keep], labels


def pseudo(frames: list[np.ndarray], seed: int, kind: str) -> tuple[list, np.ndarray]:
    return sped_up(frames) if kind == "speed" else paste_box(frames, seed, kind)


def shake_clip(frames: list[np.ndarray], shake: float, name: str) -> list[np.ndarray]:
    """The clip shaken by up to `shake` x the width (unchanged at 0), seeded by its `name` as the
    suite seeds its clips."""
    return shaken(frames, shake, name) if shake > 0 else frames


def shaken_pseudo(
    frames: list[np.ndarray], seed: int, kind: str, shake: float, name: str
) -> tuple[list, np.ndarray]:
    """`pseudo`, then shaken: the pasted box moves with the scene."""
    frames, labels = pseudo(frames, seed, kind)
    return shake_clip(frames, shake, name), labels


def learning_clip(
    frames: list[np.ndarray], index: int, learn_in: str, shake: float, name: str
) -> list[np.ndarray]:
    """A fitting clip: shaken as every clip, and every second one (`index` odd) in `learn_in`:
    a camera whose learning footage spans a day has seen its night too (half of it)."""
    condition = learn_in if index % 2 else "clean"
    return in_condition(shake_clip(frames, shake, name), condition, name)


def condition_paths(out: Path, conditions: list[str]) -> dict[str, Path]:
    """Where each condition's scores go: `out` itself without conditions, else clean and each
    condition beside it (`proxy.npz` -> `proxy-clean.npz`, `proxy-dim.npz`, ...)."""
    if not conditions:
        return {"clean": out}
    return {c: out.with_name(f"{out.stem}-{c}{out.suffix}") for c in ["clean", *conditions]}


def busyness(frames: list[np.ndarray]) -> float:
    """Mean share of a clip's pixels that change by more than 20 grey levels over 2 frames: how
    much moves in it, without any model (the busiest clips are the crowded ones)."""
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.int16) for f in frames]
    shares = [np.mean(np.abs(b - a) > 20) for a, b in zip(grey, grey[2:], strict=False)]
    return float(np.mean(shares)) if shares else 0.0


def held_out_sets(
    names: list[str], clips: dict[str, list[np.ndarray]], folds: int, busiest: bool
) -> list[list[str]]:
    """The clips each fold holds out: every `folds`-th clip, or (`busiest`) one fold of the
    busiest quarter of the clips, fitted on the quieter rest. Random clip folds cannot show what a
    crowd the camera learned little of does to the calibration (docs/benchmarks-normality.md,
    object appearance round's diagnosis); the busiest quarter held out can."""
    if busiest:
        ranked = sorted(names, key=lambda n: busyness(clips[n]), reverse=True)
        return [sorted(ranked[: max(1, len(names) // 4)])]
    return [[n for i, n in enumerate(names) if i % folds == f] for f in range(folds)]


def run(
    data: Path,
    folds: int,
    out: Path,
    limit: int | None,
    held_max: int | None,
    shake: float,
    conditions: list[str],
    learn_in: str = "clean",
    busiest: bool = False,
) -> None:
    settings = Settings()
    encoders = installed_encoders(settings)
    fps = settings.ingest.default_fps
    paths = sorted((data / "train").glob("*.mp4"))[:limit]
    clips = {p.stem: analysed_frames(p, fps).frames for p in paths}
    names = sorted(clips)
    outs = condition_paths(out, conditions)
    saved: dict[str, dict[str, np.ndarray]] = {c: {} for c in outs}
    for f, held in enumerate(held_out_sets(names, clips, folds, busiest)):
        scored = held[:held_max]
        stage1 = Stage1(settings, encoders)
        t = time.process_time()
        fitting = [n for n in names if n not in held]
        stage1.fit(learning_clip(clips[n], i, learn_in, shake, n) for i, n in enumerate(fitting))
        fit_cpu = time.process_time() - t
        print(f"{data.name} fold {f} ({', '.join(held)} held out): fit {fit_cpu:.0f} CPU-s")
        cpu = dict.fromkeys(outs, 0.0)
        count = dict.fromkeys(outs, 0)
        for j, n in enumerate(scored):
            for kind in KINDS:
                pasted, labels = shaken_pseudo(clips[n], j, kind, shake, n)
                for condition in outs:
                    frames = in_condition(pasted, condition, n)
                    t = time.process_time()
                    result = stage1.score(frames, fps)
                    cpu[condition] += time.process_time() - t
                    count[condition] += len(frames)
                    keep = saved[condition]
                    keep[f"{n}|{kind}|labels"] = labels
                    for term, values in result.terms.items():
                        keep[f"{n}|{kind}|{term}"] = values.astype(np.float32)
        for condition, path in outs.items():
            rate = count[condition] / max(cpu[condition], 1e-9)
            print(
                f"  {condition}: scored {count[condition]} frames, {rate:.0f} frames per CPU-s",
                flush=True,
            )
            np.savez_compressed(path, **saved[condition])


def parse_conditions(text: str) -> list[str]:
    """`dim,noise` -> ["dim", "noise"]; a name `vad.eval.conditions` does not know is an error."""
    asked = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in asked if c not in CONDITIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown condition(s) {', '.join(unknown)}: choose from {', '.join(CONDITIONS)}"
        )
    return list(dict.fromkeys(asked))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="first N training clips only")
    parser.add_argument("--held", type=int, default=None, help="score N held-out clips a fold")
    parser.add_argument(
        "--shake", type=float, default=0.0, help="shake every clip by up to this x the width"
    )
    parser.add_argument(
        "--condition",
        type=parse_conditions,
        default=[],
        help="score the held-out clips also as dim, noise and/or jpeg (comma list)",
    )
    parser.add_argument(
        "--learn-in",
        choices=["clean", *CONDITIONS],
        default="clean",
        help="every second fitting clip in this condition (learning footage that spans it)",
    )
    parser.add_argument(
        "--busiest",
        action="store_true",
        help="one fold: hold out the busiest quarter of the clips, fit on the rest",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    run(
        args.data,
        args.folds,
        args.out,
        args.limit,
        args.held,
        args.shake,
        args.condition,
        args.learn_in,
        args.busiest,
    )


if __name__ == "__main__":
    main()
