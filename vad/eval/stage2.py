"""Stage 2's effect on a labelled dataset (`vad eval stage2`): does the LLM's rating of the windows
stage 1 flags separate anomalies from false alarms better than stage 1 alone?

Protocol, as the service runs it: stage 1 (`Stage1`, what the worker runs) is fitted on the
normal training clips and scores each test clip, both read as the worker analyses a camera (at the
analysis rate, `vad.video.analysed_frames`); the clip is cut into the pipeline's windows and
fed to the incident tracker; a window goes to stage 2 when an incident opens or its peak rises in
it (at most `max_per_incident` per incident), exactly the stage-1 hook's rule. Stage 2 describes
the window from the detector's tracks (`vad.stage2.scene`, norms fitted on the same training
clips) and runs the chain (summary, rating, explanation; as in the worker, a model whose weight is
0 is not asked for the rating of test windows). Figures are per window (score = the
window's highest stage-1 frame score; label = any anomalous decoded frame of the window's time):

- `stage1_auc`: ROC-AUC of stage-1 window scores over every test window;
- `fused_auc`: the same where analysed windows take the fused score of `vad.stage2.weight`
  (stage 1 raised by `w * (rating - p95 of the model's normal ratings)`; w fitted from the
  model's ratings of `stage2.calibration_windows` training windows, as `vad stage2 calibrate`
  does for a camera) and the others keep their stage-1 score;
- false alarms per hour of normal footage at the threshold that keeps 90 % of the anomalous
  windows, before and after stage 2.

Not modelled here: refinement over similar past summaries and gap filling (they need the camera's
history of analyses; unparsed ratings keep the stage-1 score).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vad.encoders.detectors.keyframes import KeyFrameDetector
from vad.eval.metrics import frame_metrics
from vad.incidents import IncidentTracker, ScoredFrame
from vad.settings import CoreSettings
from vad.stage2.calibration import rate_normal_windows
from vad.stage2.chain import Stage2Chain, WindowInput
from vad.stage2.scene import SceneNorms, describe_window, fit_scene_norms
from vad.stage2.weight import FusionWeight, fit_weight, fuse
from vad.video import AnalysedClip, analysed_frames

RECALL = 0.9
Progress = Callable[[str, int, int], None]


@dataclass
class WindowRow:
    video: str
    start: int  # first frame
    stage1: float
    label: int
    flagged: bool = False
    llm: float | None = None
    scene: list[str] = field(default_factory=list)
    explanation: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # scene description (detector) + chain
    chain_cpu_seconds: dict[str, float] = field(default_factory=dict)  # per chain step


def flagged_windows(
    scores: np.ndarray, times: list[float], per_window: int, settings: CoreSettings
) -> list[tuple[int, float, bool]]:
    """(first frame, highest score, sent to stage 2?) of each window of one clip's analysed
    frames (`times`: their media time, seconds)."""
    tracker = IncidentTracker(settings.incidents, settings.incidents.default_threshold)
    starts = list(range(0, len(scores), per_window))
    out, per_incident = [], 0
    for n, start in enumerate(starts):
        idx = range(start, min(start + per_window, len(scores)))
        events = tracker.feed([ScoredFrame(times[i], float(scores[i]), i) for i in idx])
        if n == len(starts) - 1:
            events += tracker.end_stream()
        kinds = {e.kind for e in events}
        if "opened" in kinds:
            per_incident = 0
        sent = bool(kinds & {"opened", "updated"}) and per_incident < (
            settings.stage2.max_per_incident
        )
        per_incident += int(sent)
        window = scores[start : start + per_window]
        peak = float(np.nanmax(window)) if np.isfinite(window).any() else 0.0
        out.append((start, peak, sent))
    return out


def false_alarms_per_hour(
    labels: np.ndarray, scores: np.ndarray, window_seconds: float, recall: float = RECALL
) -> float | None:
    """Normal windows at or above the highest threshold that keeps `recall` of the anomalous
    windows, per hour of normal footage."""
    positives = np.sort(scores[labels == 1])[::-1]
    normal = scores[labels == 0]
    if not len(positives) or not len(normal):
        return None
    threshold = positives[int(np.ceil(recall * len(positives))) - 1]
    hours = len(normal) * window_seconds / 3600.0
    return round(float(np.sum(normal >= threshold)) / hours, 2)


def fused(rows: list[WindowRow], weight: FusionWeight) -> np.ndarray:
    return np.array([fuse(r.stage1, r.llm, weight) for r in rows])


def evaluate_stage2(
    train: list[Path],
    test: list[Path],
    labels: dict[str, np.ndarray],
    stage1,
    detector,
    chain: Stage2Chain,
    settings: CoreSettings,
    fps: float,
    max_windows: int | None = None,
    context: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Fit on `train`, score `test`, send flagged windows through `chain`; the figures above.
    `fps` is the analysis rate (`settings.ingest.default_fps` for what the worker does)."""
    tell = progress or (lambda *_: None)
    tell("fitting stage 1", 0, len(train))
    clips = [c for c in (analysed_frames(p, fps) for p in train) if c.frames]
    stage1.fit((c.frames for c in clips), clips[0].rate if clips else fps)
    tell("scene norms", len(train), len(train))
    # as `vad camera learn` fits them and the worker describes windows: key-frame detections,
    # the frames between reusing them (stage 1's object model was fitted on exactly those)
    detector = KeyFrameDetector.like_learning(detector, settings.objects)
    if stage1.encoders.detector is not None:
        found = stage1.train_detections
    else:
        found = [detector.detect(c.frames) for c in clips]
    norms = fit_scene_norms((f, c.times()) for f, c in zip(found, clips, strict=True))
    del found
    rate = clips[0].rate if clips else fps
    per_window = max(1, int(round(settings.windows.seconds * rate)))
    normal = rate_normal_windows(
        (c.frames for c in clips), rate, per_window, norms, detector, chain,
        settings.stage2.calibration_windows, context, progress,
    )  # fmt: skip
    del clips
    weight = fit_weight(chain.llm.name, normal, settings.stage2.fusion_weight)
    rows: list[WindowRow] = []
    analysed = 0
    for k, path in enumerate(test):
        tell("test clips", k, len(test))
        clip = analysed_frames(path, fps)
        scores = stage1.score(clip.frames, clip.rate).fused
        truth, times = labels[path.stem], clip.times()
        for start, peak, sent in flagged_windows(scores, times, per_window, settings):
            span = _decoded_span(clip, start, per_window)
            row = WindowRow(path.stem, span.start, peak, int(np.any(truth[span])), flagged=sent)
            rows.append(row)
            if sent and (max_windows is None or analysed < max_windows):
                window = slice(start, start + per_window)
                _analyse(
                    row, clip.frames[window], times[window], norms, detector, chain, context,
                    rate=not weight.explanations_only,
                )  # fmt: skip
                analysed += 1
                tell("windows analysed", analysed, max_windows or 0)
    return _report(rows, weight, normal, chain, norms, per_window / rate)


def _decoded_span(clip: AnalysedClip, start: int, per_window: int) -> slice:
    """The decoded frames a window of analysed frames covers: from its first analysed frame to
    the next window's (the frames skipped in between show the window's scores)."""
    end = start + per_window
    return slice(clip.indices[start], clip.indices[end] if end < len(clip.indices) else None)


def _analyse(
    row,
    frames,
    times,
    norms: SceneNorms,
    detector,
    chain: Stage2Chain,
    context: str | None,
    rate: bool,
) -> None:
    """As the stage-2 worker: a model with weight 0 is not asked for the rating."""
    started, cpu = time.perf_counter(), time.process_time()
    scene = describe_window(detector.detect(frames), times, norms)
    result = chain.run(WindowInput([], [], context, [], scene), rate=rate)
    row.seconds = time.perf_counter() - started
    row.cpu_seconds = time.process_time() - cpu
    row.llm, row.scene, row.explanation = result.score, [s for _, s in scene], result.explanation
    row.chain_cpu_seconds = result.stage_cpu_seconds


def _report(
    rows: list[WindowRow],
    weight: FusionWeight,
    normal: list[float | None],
    chain: Stage2Chain,
    norms,
    window_s: float,
) -> dict:
    labels = np.array([r.label for r in rows])
    before = np.array([r.stage1 for r in rows])
    after = fused(rows, weight)
    done = [r for r in rows if r.seconds > 0]
    llm = chain.llm
    tokens, llm_cpu = getattr(llm, "tokens", 0), getattr(llm, "cpu_seconds", 0.0)
    return {
        "stage1_auc": _auc(labels, before),
        "fused_auc": _auc(labels, after),
        "false_alarms_per_hour_before": false_alarms_per_hour(labels, before, window_s),
        "false_alarms_per_hour_after": false_alarms_per_hour(labels, after, window_s),
        "windows_analysed": len(done),
        "seconds_per_window": round(statistics.mean(r.seconds for r in done), 3) if done else None,
        "llm_model": llm.name,
        "cpu_seconds_per_window": _mean([r.cpu_seconds for r in done]),
        "chain_cpu_seconds_per_window": _mean([sum(r.chain_cpu_seconds.values()) for r in done]),
        "chain_cpu_seconds_per_step": {
            step: _mean([r.chain_cpu_seconds.get(step, 0.0) for r in done])
            for step in sorted({k for r in done for k in r.chain_cpu_seconds})
        },
        "tokens_generated": tokens,
        "tokens_per_cpu_second": round(tokens / llm_cpu, 1) if llm_cpu else None,
        "fusion_weight": weight.to_dict(),
        "normal_ratings": normal,
        "mean_rating_training": _mean([r for r in normal if r is not None]),
        "recall": RECALL,
        "windows": len(rows),
        "anomalous_windows": int(labels.sum()),
        "flagged_windows": sum(r.flagged for r in rows),
        "flagged_anomalous": sum(r.flagged and r.label for r in rows),
        "test_windows_rated": not weight.explanations_only,  # weight 0: rating skipped
        "unparsed_ratings": sum(r.llm is None for r in done) if not weight.explanations_only else 0,
        "mean_rating_anomalous": _mean([r.llm for r in done if r.label and r.llm is not None]),
        "mean_rating_normal": _mean([r.llm for r in done if not r.label and r.llm is not None]),
        "explained": sum(bool(r.explanation.strip()) for r in done),
        "window_seconds": window_s,
        "scene_norms": norms.to_dict(),
        "examples": [
            {
                "video": r.video,
                "frame": r.start,
                "anomalous": bool(r.label),
                "stage1": round(r.stage1, 4),
                "llm": r.llm,
                "scene": r.scene,
                "explanation": r.explanation,
            }
            for r in done[:6]
        ],
    }


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    auc = frame_metrics(labels, scores).get("auc")
    return round(float(auc), 4) if auc is not None else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.mean(values), 3) if values else None
