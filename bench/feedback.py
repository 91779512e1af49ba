"""Benchmark of false-alarm feedback (issue 20): the real labels stand in for the operator.

Per dataset (Ped2, Ped1): stage 1 (`vad.eval.stage1.Stage1`, what the worker runs) is fitted on
the training clips; the test clips are split in two halves (sorted names). The first half is
replayed through stage 1 and the worker's incident rule (`vad.incidents.IncidentTracker`, default
threshold); every incident covering only normal frames is marked a false alarm and its frames (plus
the model's look-back context) are learned with the incremental update (`Stage1.extend`), one
update per false alarm, as an operator would press the button. The second half is then scored with
and without the updates.

Reported per dataset: false alarms per hour of normal footage, recall of the labelled anomalous
spans (a span counts when an incident overlaps it), frame AUC, all before/after, and the seconds
each update took. This READS TEST LABELS (the operator's verdicts): it is a look, logged as such in
docs/benchmarks-normality.md.

Each taught run and each normal run inside a second-half incident is printed with the term that
fired at its peak, the terms' shares of its frames and the peak's worst cell (`peak_place`):
whether the second half's false alarms look like the first half's.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m bench.feedback --data ../shared/data \
        [--sets ucsd_ped2 ucsd_ped1] [--thresholds 0.6 0.5 0.4] [--out results.json] \
        [--updates memory-only] [--spreads 0 0.1] [--tolerate 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before bench/, whose api.py / feedback.py hide those packages

from bench.results import collect_sets  # noqa: E402
from service.settings import Settings  # noqa: E402
from vad.eval.datasets import ped2_labels  # noqa: E402
from vad.eval.metrics import frame_metrics  # noqa: E402
from vad.eval.stage1 import Stage1, Stage1Scores, installed_encoders  # noqa: E402
from vad.eval.suite import LABELS_FILE, videos_in  # noqa: E402
from vad.incidents import IncidentTracker, ScoredFrame  # noqa: E402
from vad.scoring.normality.features import to_internal  # noqa: E402
from vad.scoring.normality.model import extract_features  # noqa: E402
from vad.scoring.velocity import to_grey  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class Span:
    """Inclusive frame range of one incident in one clip."""

    clip: str
    first: int
    last: int


def incidents(scores: np.ndarray, fps: float, settings: Settings, clip: str, threshold: float):
    """The worker's incident rule over one clip (a file source: the stream ends with the clip)."""
    tracker = IncidentTracker(settings.incidents, threshold)
    frames = [ScoredFrame(i / fps, float(s), i) for i, s in enumerate(scores)]
    events = tracker.feed(frames) + tracker.end_stream()
    spans, start = [], None
    for event in events:
        if event.kind == "opened":
            start = event.started_at
        elif event.kind == "closed" and start is not None:
            spans.append(Span(clip, round(start * fps), round(event.ended_at * fps)))
            start = None
    return spans


def peak_place(model: Stage1, frames: list[np.ndarray], scores: Stage1Scores, span: Span) -> dict:
    """The incident's peak frame: the term that fired there, the terms' shares of the
    incident's frames, and the centre (x, y as frame fractions) of that term's worst cell."""
    window = slice(span.first, span.last + 1)
    names = list(scores.terms)
    stack = np.stack([np.nan_to_num(scores.terms[n][window], nan=-1) for n in names])
    fired = stack.argmax(axis=0)
    peak = int(np.argmax(scores.fused[window]))
    term = names[fired[peak]]
    frame = span.first + peak
    shares = {n: round(float((fired == i).mean()), 2) for i, n in enumerate(names)}
    return {
        "clip": span.clip,
        "first": int(span.first),
        "last": int(span.last),
        "term": term,
        "shares": shares,
        "peak": round(float(scores.fused[frame]), 3),
        "where": _worst_cell(model, frames, frame, term),
    }


def _worst_cell(model: Stage1, frames: list[np.ndarray], frame: int, term: str) -> list[float]:
    lo = max(0, frame - model.pixel.context_frames)
    if term == "velocity":
        v = model.velocity
        greys = [to_grey(f, v.config.width) for f in frames[lo : frame + 1]]
        x, y, c, _ = v.verdicts(greys)[-1].box
        gh, gw = greys[0].shape
        return [round((x + c / 2) / gw, 3), round((y + c / 2) / gh, 3)]
    p = model.pixel
    greys = [to_internal(f, p.internal) for f in frames[lo : frame + 1]]
    feats = extract_features(greys, p.families, p._engine, p.config.flow_gap, p.config.stabilise)
    family = p.families[0]
    d = p.memories[family.name].distances(feats[family.name][-1:])[0]
    rows, cols = family.grid(p.internal)
    r, c = divmod(int(np.argmax(d)), cols)
    return [round((c + 1) / (cols + 1), 3), round((r + 1) / (rows + 1), 3)]


def label_spans(labels: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive runs of anomalous frames."""
    edges = np.diff(np.concatenate([[0], labels.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def judge(spans: list[Span], labels: dict[str, np.ndarray], fps: float) -> dict:
    """False alarms (incidents over normal frames only) per hour of normal footage, recall of the
    labelled anomalous spans."""
    false = [s for s in spans if not labels[s.clip][s.first : s.last + 1].any()]
    normal_frames = sum(int((y == 0).sum()) for y in labels.values())
    normal_hours = normal_frames / fps / 3600
    flagged = {c: np.zeros(len(y), bool) for c, y in labels.items()}
    for s in spans:
        flagged[s.clip][s.first : s.last + 1] = True
    normal_flagged = sum(int((flagged[c] & (y == 0)).sum()) for c, y in labels.items())
    truth = [(c, a, b) for c, y in labels.items() for a, b in label_spans(y)]
    found = sum(
        any(s.clip == c and s.first <= b and s.last >= a for s in spans) for c, a, b in truth
    )
    return {
        "incidents": len(spans),
        "false_alarms": len(false),
        "false_alarms_per_hour": round(len(false) / normal_hours, 1) if normal_hours else None,
        "normal_minutes": round(normal_hours * 60, 2),
        "normal_time_in_incidents_pct": round(100 * normal_flagged / max(normal_frames, 1), 1),
        "anomalous_spans": len(truth),
        "recall": round(found / len(truth), 4) if truth else None,
    }


def scored(stage1: Stage1, clips: dict[str, list], fps: float) -> dict[str, np.ndarray]:
    """Fused stage-1 scores per clip, as the worker scores them."""
    return {name: stage1.score(frames, fps).fused for name, frames in clips.items()}


def spans_of(scores: dict[str, np.ndarray], fps: float, settings: Settings, threshold: float):
    return [s for name, x in scores.items() for s in incidents(x, fps, settings, name, threshold)]


def taught_clips(span: Span, truth: np.ndarray, clip: list, context: int, operator: str):
    """What the operator marks normal in one incident: `strict` - the whole incident when it
    covers only normal frames (the issue's protocol); `trimmed` - its runs of at least 1 s of
    normal frames (the operator cuts the incident down to the real event)."""
    inside = truth[span.first : span.last + 1]
    if operator == "strict":
        return [] if inside.any() else [clip[max(0, span.first - context) : span.last + 1]]
    out = []
    for a, b in label_spans((inside == 0).astype(np.int8)):
        if b - a + 1 >= 10:
            first = span.first + a
            out.append(clip[max(0, first - context) : span.first + b + 1])
    return out


UPDATES = ("all", "fired", "memory-only")


def fired_only(taught: list[list], scores: np.ndarray, runs: list[tuple], t: float, context: int):
    """The `fired` update: of each taught run (`runs`: clip start, first and last taught frame in
    the test clip), only the frames whose score reached the threshold, each stretch with
    `context` look-back frames; what did not fire was not the false alarm."""
    out = []
    for clip, (start, first, last) in zip(taught, runs, strict=True):
        fired = scores[first : last + 1] >= t
        for a, b in label_spans(fired.astype(np.int8)):
            out.append(clip[max(0, first - start + a - context) : first - start + b + 1])
    return out


def learn(model: Stage1, taught: list[list], update: str) -> Stage1:
    """One false alarm learned by the `update` variant: `all` and `fired` recalibrate (the
    update as built before 2026-12-06); `memory-only` keeps every model's calibration (the
    product's default since: feedback.recalibrate=false); " spread S" appended: the lesson is
    also given to the cells within S of the frame width (`feedback.spread`); " tolerate" after
    it: the pixel model's cells also raise their distance scale to the false alarm's level
    (`NormalityModel.extend(tolerate=True)`)."""
    update, tolerate = update.removesuffix(" tolerate"), update.endswith(" tolerate")
    update, _, spread = update.partition(" spread ")
    recalibrate, spread = update != "memory-only", float(spread) if spread else 0.0
    learned = model.extend(taught, recalibrate, spread)
    if tolerate:  # the pixel model's cells also tolerate the false alarm's level
        learned.pixel = model.pixel.extend(taught, recalibrate, spread, tolerate=True)
    return learned


def _taught_runs(span: Span, truth: np.ndarray, context: int, operator: str) -> list[tuple]:
    """(clip start, first, last taught frame) in the test clip of each clip `taught_clips`
    returns, in its order."""
    inside = truth[span.first : span.last + 1]
    if operator == "strict":
        return [] if inside.any() else [(max(0, span.first - context), span.first, span.last)]
    return [
        (max(0, span.first + a - context), span.first + a, span.first + b)
        for a, b in label_spans((inside == 0).astype(np.int8))
        if b - a + 1 >= 10
    ]


def run_set(
    folder: Path,
    settings: Settings,
    thresholds: list[float],
    operator: str,
    updates: tuple[str, ...] = ("all",),
) -> dict:
    labels_all = ped2_labels(folder / LABELS_FILE)
    fps = float(json.loads((folder / LABELS_FILE).read_text())["fps"])
    tests = [p for p in videos_in(folder / "test") if p.stem in labels_all]
    first, second = tests[: len(tests) // 2], tests[len(tests) // 2 :]
    stage1 = Stage1(settings, installed_encoders(settings))
    fit = stage1.fit(list(iter_video_frames(p)) for p in videos_in(folder / "train"))
    print(f"{folder.name}: stage 1 ({', '.join(stage1.parts)}) fitted in {fit:.0f} s", flush=True)

    def load(paths):
        return {p.stem: list(iter_video_frames(p)) for p in paths}

    def labels(clips):
        return {n: labels_all[n][: len(f)] for n, f in clips.items()}

    out = {"dataset": folder.name, "parts": stage1.parts, "fit_seconds": round(fit, 1)}
    out["operator"] = operator
    out["first_half_videos"] = [p.stem for p in first]
    out["second_half_videos"] = [p.stem for p in second]
    clips = load(first)
    truth = labels(clips)
    first_full = {name: stage1.score(frames, fps) for name, frames in clips.items()}
    first_scores = {name: s.fused for name, s in first_full.items()}
    context = stage1.pixel.context_frames
    updated: dict[tuple[float, str], Stage1] = {}
    rows: dict[float, dict] = {}
    for t in thresholds:
        spans = spans_of(first_scores, fps, settings, t)
        rows[t] = {"threshold": t, "first_half": judge(spans, truth, fps), "updates": {}}
        print(f"  t={t}: first half {rows[t]['first_half']}", flush=True)
        places = [
            peak_place(stage1, clips[span.clip], first_full[span.clip], Span(span.clip, a, b))
            for span in spans
            for _, a, b in _taught_runs(span, truth[span.clip], context, operator)
        ]
        rows[t]["taught"] = places
        for place in places:
            print(f"    taught {place}", flush=True)
        for update in updates:
            model, seconds, masks = (
                stage1,
                [],
                {n: np.zeros(len(f), bool) for n, f in clips.items()},
            )
            for span in spans:
                taught = taught_clips(span, truth[span.clip], clips[span.clip], context, operator)
                runs = _taught_runs(span, truth[span.clip], context, operator)
                for _, first, last in runs:
                    masks[span.clip][first : last + 1] = True
                if update.startswith("fired"):
                    taught = fired_only(taught, first_scores[span.clip], runs, t, context)
                if not taught:
                    continue
                started = time.perf_counter()
                model = learn(model, taught, update)
                seconds.append(time.perf_counter() - started)
                print(f"  t={t} {update}: {span}: learned in {seconds[-1]:.2f} s", flush=True)
            updated[(t, update)] = model
            effect = {}
            if model is not stage1:  # label-free: did the taught frames stop firing, and others?
                after = scored(model, clips, fps)
                taught_after = np.concatenate([after[n][masks[n]] for n in clips])
                taught_before = np.concatenate([first_scores[n][masks[n]] for n in clips])
                other = [(first_scores[n][~masks[n]], after[n][~masks[n]]) for n in clips]
                was = np.concatenate([b for b, _ in other]) >= t
                now = np.concatenate([a for _, a in other]) >= t
                effect = {
                    "taught_frames_firing_before": int((taught_before >= t).sum()),
                    "taught_frames_firing_after": int((taught_after >= t).sum()),
                    "other_frames_firing_before": int(was.sum()),
                    "other_frames_firing_after": int((now & was).sum()),
                }
                print(f"  t={t} {update}: first half, label-free {effect}", flush=True)
            rows[t]["updates"][update] = {
                "count": len(seconds),
                "frames": int(model.pixel.metadata.get("frames_seen", 0))
                - int(stage1.pixel.metadata.get("frames_seen", 0)),
                "mean_seconds": round(float(np.mean(seconds)), 2) if seconds else None,
                "max_seconds": round(float(np.max(seconds)), 2) if seconds else None,
                "first_half_effect": effect,
            }
    del clips, first_scores
    clips = load(second)
    truth = labels(clips)
    y = np.concatenate([truth[n] for n in clips])

    def second_half(scores: dict[str, np.ndarray], t: float) -> dict:
        s = np.concatenate([scores[n] for n in clips])
        figures = judge(spans_of(scores, fps, settings, t), truth, fps)
        return {**figures, "auc": round(frame_metrics(y, s)["auc"], 4)}

    before_full = {name: stage1.score(frames, fps) for name, frames in clips.items()}
    before = {name: s.fused for name, s in before_full.items()}
    for t in thresholds:
        rows[t]["before"] = second_half(before, t)
        normal_runs = [
            peak_place(stage1, clips[span.clip], before_full[span.clip], Span(span.clip, a, b))
            for span in spans_of(before, fps, settings, t)
            for _, a, b in _taught_runs(span, truth[span.clip], 0, "trimmed")
        ]
        for run in normal_runs:
            near = [np.hypot(*np.subtract(run["where"], x["where"])) for x in rows[t]["taught"]]
            run["nearest_taught"] = round(float(min(near)), 3) if near else None
            print(f"    second half, normal run in an incident {run}", flush=True)
        rows[t]["before"]["normal_runs_in_incidents"] = normal_runs
        print(f"  t={t}: second half before {rows[t]['before']}", flush=True)
        rows[t]["after"] = {}
        for update in updates:
            model = updated[(t, update)]
            after = before if model is stage1 else scored(model, clips, fps)
            rows[t]["after"][update] = second_half(after, t)
            print(f"  t={t}: second half after ({update}) {rows[t]['after'][update]}", flush=True)
    out["thresholds"] = [rows[t] for t in thresholds]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sets", nargs="+", default=["ucsd_ped2", "ucsd_ped1"])
    parser.add_argument("--out", type=Path, help="Write the results as JSON here too.")
    parser.add_argument(
        "--operator",
        choices=["strict", "trimmed"],
        default="strict",
        help="strict: whole incidents over normal frames only are false alarms (the issue's "
        "protocol); trimmed: also the normal runs (>= 1 s) inside incidents",
    )
    parser.add_argument(
        "--updates",
        nargs="+",
        choices=UPDATES,
        default=["all"],
        help="all: every taught frame, recalibrated; fired: only the taught frames at or over "
        "the threshold (+ look-back), recalibrated; memory-only: every taught frame, the "
        "calibration kept (the product's default)",
    )
    parser.add_argument(
        "--spreads",
        nargs="+",
        type=float,
        default=[0.0],
        help="feedback.spread values each update is also run with (0: the exact cells)",
    )
    parser.add_argument(
        "--tolerate",
        nargs="*",
        type=float,
        default=[],
        help="spreads each update is also run with, the pixel model's cells tolerating the false "
        "alarm's level",
    )
    parser.add_argument(
        "--thresholds",
        nargs="+",
        type=float,
        help="Incident thresholds to replay at (default: the worker's default only)",
    )
    args = parser.parse_args()
    settings = Settings()
    thresholds = args.thresholds or [settings.incidents.default_threshold]
    variants = tuple(u if s == 0 else f"{u} spread {s}" for u in args.updates for s in args.spreads)
    variants += tuple(f"{u} spread {s} tolerate" for u in args.updates for s in args.tolerate)
    results = collect_sets(
        args.sets,
        lambda name: run_set(args.data / name, settings, thresholds, args.operator, variants),
        args.out,
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
