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

`--kinds` (comma list; default `fast,cart,far,speed`, the old figures' four) picks the kinds. The
opt-in `stray` is a real person out of place, the one pseudo-anomaly the detector sees (the boxes
above never are, so on them the object term can only add false alarms): the held-out clip's own
most confident person (detected as `Stage1` detects, >= 0.5, box 2 % off every border), cropped
with its box grown by `--stray-margin` (0.5) of its size a side and kept at its size (no
perspective scaling), walks at 0.6 % of the width a frame (seeded start and direction) during
the middle half along the row band where the fitting clips' person detections (>= the object
model's `min_confidence`) have the fewest centres, the top and bottom 5 % left out: a person
where this camera never shows people. A clip with no clear person gets no stray. The run prints
the share of pasted key frames where a person detection >= `min_confidence` overlaps the pasted
box (IoU >= 0.3); `--soft` feathers the crop's margin (it lowered that share). The opt-in `rush`
is the same person at `RUSH_PACE` (3) x that pace along the row band where the fitting clips show
the **most** people: a person where people are, at a speed they are not (a runner or a cyclist
among walkers). Both need the detector installed (`VAD_MODEL_DIR`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from bench.detector import iou  # noqa: E402
from service.settings import Settings  # noqa: E402
from vad.encoders.detectors.keyframes import key_frames  # noqa: E402
from vad.eval.conditions import CONDITIONS, in_condition, shaken  # noqa: E402
from vad.eval.stage1 import Stage1, installed_encoders  # noqa: E402
from vad.object_vocabulary import PERSON  # noqa: E402
from vad.video import analysed_frames  # noqa: E402

# (box height, box width) as fractions of the frame, speed (width fraction a frame), textured,
# vertical band of the box's top edge
BOXES = {
    "fast": ((0.14, 0.05), 0.025, True, (0.35, 0.75)),
    "cart": ((0.10, 0.16), 0.006, False, (0.35, 0.75)),
    "far": ((0.06, 0.025), 0.010, True, (0.08, 0.30)),
}
KINDS = [*BOXES, "speed"]
# opt-in kinds (`--kinds`), each a real person pasted (they need the detector: a person detected in
# the held-out clip): `stray` walks where the camera never shows people, `rush` runs where it
# shows the most
PERSON_KINDS = ["stray", "rush"]

STRAY_SPEED = 0.006  # width fraction a frame: walking pace, as `cart`
STRAY_CONFIDENCE = 0.5  # the person to copy: a clear detection
STRAY_BORDER = 0.02  # ... whose box keeps this fraction of the frame off every border (whole)
STRAY_MARGIN = 0.5  # the crop: the box grown by this fraction of its size on each side (0.15
# left the detector under 0.4 on half the frames: a person needs some ground around it)
STRAY_TRIM = 0.05  # top and bottom fractions of the frame left out of the row choice
STRAY_FEATHER = 0.5  # share of the margin over which a soft-edged paste fades in
RUSH_PACE = 3.0  # `rush` moves at this x `STRAY_SPEED`: a runner or a cyclist among walkers


@dataclass(frozen=True)
class StrayPlan:
    """A person to paste into a clip: the crop (BGR, margin included), the person's box inside
    the crop (x1, y1, x2, y2 in crop pixels), the frame row (fraction) of its path's centre and
    its speed (width fraction a frame)."""

    patch: np.ndarray
    inner: tuple[int, int, int, int]
    row: float
    soft: bool = False
    speed: float = STRAY_SPEED


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


def person_rows(clips: Sequence[Sequence[Sequence]], min_confidence: float) -> np.ndarray:
    """Centre rows (frame fractions) of the person detections at or above `min_confidence` in
    every frame of `clips` (clips -> frames -> detections, as `Stage1.train_detections`)."""
    rows = [
        (d.box[1] + d.box[3]) / 2
        for clip in clips
        for frame in clip
        for d in frame
        if d.class_name == PERSON and d.confidence >= min_confidence
    ]
    return np.asarray(rows, np.float64)


def quiet_row(
    rows: np.ndarray, height: float, trim: float = STRAY_TRIM, step: float = 0.01
) -> float:
    """The centre row (frame fraction) of the band `height` high, inside [trim, 1 - trim], that
    holds the fewest person centres of `rows`: where this camera never shows people. Of equally
    empty bands, the middle one of the longest run (the heart of the empty region, not its rim,
    and deterministic)."""
    return _band_row(rows, height, trim, step, busiest=False)


def busy_row(
    rows: np.ndarray, height: float, trim: float = STRAY_TRIM, step: float = 0.01
) -> float:
    """As `quiet_row`, the band holding the most person centres: where this camera shows people
    most (a `rush` person is unusual by its speed only, not its place)."""
    return _band_row(rows, height, trim, step, busiest=True)


def _band_row(rows: np.ndarray, height: float, trim: float, step: float, busiest: bool) -> float:
    """The centre of the band with the fewest (or most) centres of `rows`; ties: the middle of
    the longest run of such bands."""
    half = min(height, 1 - 2 * trim) / 2
    centres = np.arange(trim + half, 1 - trim - half + 1e-9, step)
    if len(centres) == 0:
        return 0.5
    inside = rows[(rows >= trim) & (rows <= 1 - trim)]
    counts = np.array([np.sum(np.abs(inside - c) <= half) for c in centres])
    best = counts == (counts.max() if busiest else counts.min())
    runs, start = [], None
    for i, b in enumerate([*best, False]):
        if b and start is None:
            start = i
        elif not b and start is not None:
            runs.append((i - start, -start, start, i))
            start = None
    _, _, a, b = max(runs)
    return float(centres[(a + b - 1) // 2])


def clear_person(
    frames: Sequence[Sequence], confidence: float = STRAY_CONFIDENCE, border: float = STRAY_BORDER
) -> tuple[int, tuple[float, float, float, float]] | None:
    """(frame index, normalised box) of the most confident person at or above `confidence`
    whose box stays `border` off every edge (a whole person, not one cut by the frame), or None."""
    found = [
        (d.confidence, -i, i, d.box)
        for i, frame in enumerate(frames)
        for d in frame
        if d.class_name == PERSON
        and d.confidence >= confidence
        and min(d.box[0], d.box[1]) >= border
        and max(d.box[2], d.box[3]) <= 1 - border
    ]
    if not found:
        return None
    _, _, i, box = max(found)
    return i, box


def person_crop(
    frame: np.ndarray, box: tuple[float, float, float, float], margin: float = STRAY_MARGIN
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The person's crop from `frame`, its box grown by `margin` x its size on each side (clipped
    to the frame), and the person's box inside the crop (pixels)."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    mx, my = margin * (x2 - x1), margin * (y2 - y1)
    cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
    cx2, cy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    inner = (int(x1) - cx1, int(y1) - cy1, int(np.ceil(x2)) - cx1, int(np.ceil(y2)) - cy1)
    return frame[cy1:cy2, cx1:cx2].copy(), inner


def stray_track(
    n: int,
    size: tuple[int, int],
    patch: tuple[int, int],
    row: float,
    seed: int,
    speed: float = STRAY_SPEED,
) -> list[tuple[int, int] | None]:
    """Per frame, the crop's top-left corner (x, y pixels) or None outside the segment: a walk
    along the row `row` (the crop's centre) at `speed` x the width a frame, from a seeded start in
    a seeded direction, wrapping around as `paste_box`'s boxes do. `size` = frame (h, w),
    `patch` = crop (h, w)."""
    (h, w), (ph, pw) = size, patch
    rng = np.random.default_rng(seed)
    x0, d = rng.uniform(0, max(1, w - pw)), rng.choice([-1, 1])
    y = int(np.clip(round(row * h - ph / 2), 0, max(0, h - ph)))
    start, stop = segment(n)
    return [
        (int(round((x0 + d * speed * w * (i - start)) % max(1, w - pw))), y)
        if start <= i < stop
        else None
        for i in range(n)
    ]


def feather(shape: tuple[int, int], inner: tuple[int, int, int, int], share: float) -> np.ndarray:
    """Paste weights (h, w, 1) of a crop: 1 over the person's box, fading linearly to 0 across
    `share` of the margin at the crop's edges (a soft edge: no hard rectangle around the person)."""
    h, w = shape
    x1, y1, x2, y2 = inner
    ys, xs = np.arange(h)[:, None] + 0.5, np.arange(w)[None, :] + 0.5
    span_x, span_y = max(1.0, share * min(x1, w - x2)), max(1.0, share * min(y1, h - y2))
    ax = np.clip(np.minimum(xs, w - xs) / span_x, 0, 1)
    ay = np.clip(np.minimum(ys, h - ys) / span_y, 0, 1)
    return (ax * ay)[:, :, None].astype(np.float32)


def paste_stray(frames: list[np.ndarray], seed: int, plan: StrayPlan) -> tuple[list, np.ndarray]:
    """The clip with `plan`'s person walking along its row during the middle half (hard or soft
    edged), and per-frame labels (1 where the person is pasted)."""
    ph, pw = plan.patch.shape[:2]
    track = stray_track(len(frames), frames[0].shape[:2], (ph, pw), plan.row, seed, plan.speed)
    alpha = feather((ph, pw), plan.inner, STRAY_FEATHER) if plan.soft else None
    out, labels = [], np.zeros(len(frames), np.int8)
    for frame, at in zip(frames, track, strict=True):
        if at is not None:
            (x, y), frame = at, frame.copy()
            h, w = min(ph, frame.shape[0] - y), min(pw, frame.shape[1] - x)
            patch = plan.patch[:h, :w]
            if alpha is not None:
                under = frame[y : y + h, x : x + w].astype(np.float32)
                patch = alpha[:h, :w] * patch + (1 - alpha[:h, :w]) * under
            frame[y : y + h, x : x + w] = np.round(patch).astype(np.uint8)
            labels[len(out)] = 1
        out.append(frame)
    return out, labels


def stray_boxes(n: int, size: tuple[int, int], plan: StrayPlan, seed: int) -> list:
    """Per frame, the pasted person's normalised box (x1, y1, x2, y2) or None: where the
    detector should find it."""
    h, w = size
    x1, y1, x2, y2 = plan.inner
    track = stray_track(n, size, plan.patch.shape[:2], plan.row, seed, plan.speed)
    return [
        None
        if at is None
        else ((at[0] + x1) / w, (at[1] + y1) / h, min(w, at[0] + x2) / w, min(h, at[1] + y2) / h)
        for at in track
    ]


def seen_share(
    boxes: Sequence, detections: Sequence[Sequence], keys: Sequence[int], min_confidence: float
) -> tuple[int, int]:
    """(key frames with the pasted person seen, pasted key frames): seen = a person detection at
    or above `min_confidence` overlapping the pasted box with IoU >= 0.3. `keys`: per frame, its
    key frame's index (`key_frames`); only key frames count (the others reuse their detections)."""
    seen = total = 0
    for i, box in enumerate(boxes):
        if box is None or keys[i] != i:
            continue
        total += 1
        seen += any(
            d.class_name == PERSON and d.confidence >= min_confidence and iou(d.box, box) >= 0.3
            for d in detections[i]
        )
    return seen, total


def pseudo(
    frames: list[np.ndarray], seed: int, kind: str, plan: StrayPlan | None = None
) -> tuple[list, np.ndarray]:
    """The clip with the pseudo-anomaly `kind` in its middle half, and its labels (`stray` and
    `rush` need `plan`: the person, its row and speed)."""
    if kind == "speed":
        return sped_up(frames)
    if kind in PERSON_KINDS:
        if plan is None:
            raise ValueError(f"the {kind} kind needs a StrayPlan")
        return paste_stray(frames, seed, plan)
    return paste_box(frames, seed, kind)


def shake_clip(frames: list[np.ndarray], shake: float, name: str) -> list[np.ndarray]:
    """The clip shaken by up to `shake` x the width (unchanged at 0), seeded by its `name` as the
    suite seeds its clips."""
    return shaken(frames, shake, name) if shake > 0 else frames


def shaken_pseudo(
    frames: list[np.ndarray],
    seed: int,
    kind: str,
    shake: float,
    name: str,
    plan: StrayPlan | None = None,
) -> tuple[list, np.ndarray]:
    """`pseudo`, then shaken: the pasted box moves with the scene."""
    frames, labels = pseudo(frames, seed, kind, plan)
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
    kinds: Sequence[str] = tuple(KINDS),
    soft: bool = False,
    margin: float = STRAY_MARGIN,
) -> None:
    settings = Settings()
    encoders = installed_encoders(settings)
    people = [k for k in kinds if k in PERSON_KINDS]
    if people and encoders.detector is None:
        raise SystemExit(
            f"--kinds {','.join(people)} needs the detector: VAD_MODEL_DIR with it installed"
        )
    fps = settings.ingest.default_fps
    paths = sorted((data / "train").glob("*.mp4"))[:limit]
    clips = {p.stem: analysed_frames(p, fps).frames for p in paths}
    names = sorted(clips)
    outs = condition_paths(out, conditions)
    saved: dict[str, dict[str, np.ndarray]] = {c: {} for c in outs}
    tally = {k: [0, 0] for k in people}
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
        rows = (
            person_rows(stage1.train_detections, settings.objects.min_confidence)
            if people
            else None
        )
        for j, n in enumerate(scored):
            found = clear_person(stage1.detect(clips[n])) if people else None
            plans = {k: stray_plan(clips[n], found, rows, soft, margin, k) for k in people}
            for kind in kinds:
                plan = plans.get(kind)
                if kind in people and plan is None:
                    print(f"  {n}: no clear person (>= {STRAY_CONFIDENCE}) to copy, no {kind}")
                    continue
                pasted, labels = shaken_pseudo(clips[n], j, kind, shake, n, plan)
                for condition in outs:
                    frames = in_condition(pasted, condition, n)
                    t = time.process_time()
                    result = stage1.score(frames, fps)
                    cpu[condition] += time.process_time() - t
                    count[condition] += len(frames)
                    if kind in people and condition == "clean":
                        seen = stray_seen(stage1, frames, j, plan, result.detections)
                        report_stray(n, kind, plan, seen, rows, frames[0].shape[0])
                        tally[kind] = [a + b for a, b in zip(tally[kind], seen, strict=True)]
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
    for kind, (seen, total) in tally.items():
        share = seen / max(1, total)
        print(f"{kind} seen on {seen} / {total} pasted key frames ({100 * share:.1f} %)")


def stray_plan(
    frames: list[np.ndarray],
    found: tuple[int, tuple[float, float, float, float]] | None,
    rows: np.ndarray,
    soft: bool,
    margin: float,
    kind: str = "stray",
) -> StrayPlan | None:
    """The held-out clip's own clearest person (`found`: `clear_person` of its detections as
    `Stage1` detects, on key frames), cropped with its margin (the crop's size kept: no
    perspective scaling): for `stray` walking at the row where the fitting clips show fewest
    people, for `rush` at `RUSH_PACE` x that pace where they show the most. None if the clip
    shows no clear person."""
    if found is None:
        return None
    i, box = found
    patch, inner = person_crop(frames[i], box, margin)
    height = (inner[3] - inner[1]) / frames[0].shape[0]
    if kind == "rush":
        return StrayPlan(patch, inner, busy_row(rows, height), soft, RUSH_PACE * STRAY_SPEED)
    return StrayPlan(patch, inner, quiet_row(rows, height), soft)


def stray_seen(
    stage1: Stage1, frames: list[np.ndarray], seed: int, plan: StrayPlan, detections: list
) -> tuple[int, int]:
    """`seen_share` of a scored stray clip: the `detections` `Stage1.score` made, on the key
    frames it chose, the pasted boxes from the plan (unshaken: with `--shake` the check is
    approximate)."""
    o = stage1.settings.objects
    keys = key_frames(frames, o.detect_every, o.redetect_change)
    boxes = stray_boxes(len(frames), frames[0].shape[:2], plan, seed)
    return seen_share(boxes, detections, keys, o.min_confidence)


def report_stray(
    name: str, kind: str, plan: StrayPlan, seen: tuple[int, int], rows: np.ndarray, height: int
) -> None:
    """One line per pasted person: the row chosen, how many fitting person centres are near it,
    the crop's size, and how often the detector saw the pasted person."""
    ph, pw = plan.patch.shape[:2]
    near = int(np.sum(np.abs(rows - plan.row) <= (plan.inner[3] - plan.inner[1]) / height / 2))
    print(
        f"  {name}: {kind} row {plan.row:.2f} ({near} of {len(rows)} fitting person centres in"
        f" its band), crop {pw}x{ph}, seen {seen[0]}/{seen[1]} key frames",
        flush=True,
    )


def parse_kinds(text: str) -> list[str]:
    """`cart,stray` -> ["cart", "stray"]: the pseudo-anomalies to paste (default `KINDS`, the
    old figures' four; `stray` and `rush` are opt-in)."""
    asked = [k.strip() for k in text.split(",") if k.strip()]
    known = [*KINDS, *PERSON_KINDS]
    unknown = [k for k in asked if k not in known]
    if unknown or not asked:
        raise argparse.ArgumentTypeError(
            f"unknown or no kind(s) {', '.join(unknown)}: choose from {', '.join(known)}"
        )
    return list(dict.fromkeys(asked))


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
    parser.add_argument(
        "--kinds",
        type=parse_kinds,
        default=list(KINDS),
        help=f"pseudo-anomalies, comma list (default {','.join(KINDS)}; opt-in: stray, rush)",
    )
    parser.add_argument(
        "--soft", action="store_true", help="stray: paste the person with a soft (feathered) edge"
    )
    parser.add_argument(
        "--stray-margin",
        type=float,
        default=STRAY_MARGIN,
        help="stray: the crop around the person, its box grown by this x its size a side",
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
        args.kinds,
        args.soft,
        args.stray_margin,
    )


if __name__ == "__main__":
    main()
