"""`vad eval suite`: stage 1 and the optical-flow reference side by side on every labelled camera.

A dataset is any folder with `train/` (normal clips), `test/` (clips) and `test_labels.json`
(Ped2's format: `{"videos": {stem: {"labels": [0, 1, ...]}}}`), so a new camera joins the suite by
being copied into that layout. Each row fits both detectors on the training clips and scores the
test clips with the same frames, the frames a worker analysing the camera at its analysis rate
(`settings.ingest.default_fps`) would score: a file faster than that is sampled by media time as
ingest samples it, and every decoded frame takes the score in force at its time (its label is
judged against what the worker would have shown then). Robustness rows replay one dataset as
another camera: at half the frame rate (every second frame of train and test, labels likewise),
at double the frame rate (every frame twice: through the sampler, exactly the plain row's
figures), with frames upscaled 2x, and shaking (every frame of train and test shifted by a
random translation of up to 1 % of the width).

Stage 1 is `vad.eval.stage1.Stage1` (what the worker runs); the reference is
`vad.eval.reference_flow.ReferenceFlow`. Each evaluation reads test labels: it is a "look" to be
recorded in docs/benchmarks-normality.md.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from vad.eval.conditions import shaken
from vad.eval.datasets import ped2_labels
from vad.eval.metrics import frame_metrics, per_video_auc
from vad.eval.reference_flow import ReferenceFlow
from vad.eval.runner import labels_for
from vad.eval.stage1 import Stage1
from vad.sampling import analysis_rate
from vad.video import AnalysedClip, analysed_clip, iter_video_frames, video_info

LABELS_FILE = "test_labels.json"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
ROBUSTNESS_DATASET = "ucsd_ped2"

# progress(row label, phase, clips done, clips in the row)
Progress = Callable[[str, str, int, int], None]


def _quiet(_row: str, _phase: str, _done: int, _total: int) -> None:
    return None


def is_dataset(folder: Path) -> bool:
    folder = Path(folder)
    return (
        (folder / "train").is_dir()
        and (folder / "test").is_dir()
        and (folder / LABELS_FILE).is_file()
    )


def discover_datasets(root: Path) -> list[Path]:
    """The dataset folders under `root` (sorted by name), or `root` itself if it is one."""
    root = Path(root)
    if is_dataset(root):
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    found = sorted(p for p in root.iterdir() if p.is_dir() and is_dataset(p))
    if not found:
        raise FileNotFoundError(
            f"no dataset under {root}: a dataset is a folder with train/, test/ and {LABELS_FILE}"
        )
    return found


def videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


@dataclass(frozen=True)
class Variant:
    """A row's camera, made from the recording: every `step`-th frame (a camera at 1/step of its
    frame rate), each frame `repeat` times (at `repeat` x the rate), `scale` x the size, each
    frame shifted by a random whole-pixel translation of up to `shake` x the width (a camera on
    a pole in the wind; seeded by the clip's name, so every run shakes alike). The worker
    analyses that camera at the camera's analysis rate like any other
    (`vad.video.analysed_clip`: ingest's sampler by media time), and each decoded frame takes the
    score in force at its time, so labels stay per decoded frame."""

    name: str
    step: int = 1
    repeat: int = 1
    scale: float = 1.0
    shake: float = 0.0

    def camera_fps(self, recorded: float | None) -> float | None:
        return recorded * self.repeat / self.step if recorded else None

    def clip(self, path: Path, fps: float, limit: int | None = None) -> AnalysedClip:
        """What a worker analysing this camera at `fps` scores of the first `limit` recorded
        frames of `path`."""
        recorded = itertools.islice(iter_video_frames(path), limit)
        delivered = (
            copy
            for frame in itertools.islice(recorded, 0, None, self.step)
            for copy in itertools.repeat(frame, self.repeat)
        )
        clip = analysed_clip(delivered, self.camera_fps(video_info(path).fps or None), fps)
        if self.scale != 1.0:
            scaled = [
                cv2.resize(f, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_LINEAR)
                for f in clip.frames
            ]
            clip = replace(clip, frames=scaled)
        if self.shake > 0:
            clip = replace(clip, frames=shaken(clip.frames, self.shake, path.name))
        return clip

    def rate(self, path: Path, fps: float) -> float:
        """The rate this camera's clip `path` is analysed at (`AnalysedClip.rate`), read before
        decoding: what the object model's track times are counted in at fitting."""
        return analysis_rate(self.camera_fps(video_info(path).fps or None), fps)

    def labels(self, labels: np.ndarray, limit: int | None = None) -> np.ndarray:
        """Per frame this camera delivers (`repeat` copies of every `step`-th recorded frame)."""
        return np.repeat(np.asarray(labels)[:limit][:: self.step], self.repeat)


PLAIN = Variant("plain")
HALF_RATE = Variant("half frame rate", step=2)
DOUBLE_RATE = Variant("double frame rate", repeat=2)
UPSCALED = Variant("upscaled 2x", scale=2.0)
SHAKE = Variant("camera shake", shake=0.01)  # up to 1 % of the width: 4 px at 360 px
ROBUSTNESS = (HALF_RATE, DOUBLE_RATE, UPSCALED, SHAKE)


@dataclass(frozen=True)
class Camera:
    """One evaluation's footage: normal training clips, labelled test clips."""

    name: str
    train: list[Path]
    test: list[Path]
    labels: Mapping[str, np.ndarray]  # test clip stem -> 0/1 per decoded frame
    fps: float  # the analysis rate: what the worker keeps of it per second
    frame_limit: int | None = None  # first N frames of every clip only (fast tests)


def dataset_camera(
    folder: Path, subset: list[str] | None = None, frame_limit: int | None = None, *, fps: float
) -> Camera:
    """The camera of a dataset folder, analysed at `fps`; `subset` names the test clips to
    score (default all)."""
    folder = Path(folder)
    labels = ped2_labels(folder / LABELS_FILE)
    unknown = set(subset or ()) - set(labels)
    if unknown:
        raise ValueError(f"no labels for test videos {sorted(unknown)} in {folder / LABELS_FILE}")
    wanted = set(subset) if subset else set(labels)
    test = [p for p in videos_in(folder / "test") if p.stem in wanted]
    train = videos_in(folder / "train")
    if not train:
        raise FileNotFoundError(f"no training videos in {folder / 'train'}")
    if not test:
        raise ValueError(f"no video in {folder / 'test'} has a label in {LABELS_FILE}")
    return Camera(folder.name, train, test, labels, fps, frame_limit)


def labelled_camera(train_dir: Path, videos_dir: Path, labels_file: Path, *, fps: float) -> Camera:
    """Any camera analysed at `fps`: normal clips in `train_dir`, the clips of `videos_dir` that
    `labels_file` (Ped2-style JSON or a UCF-Crime temporal annotation) labels."""
    candidates = videos_in(videos_dir)
    labels = labels_for(labels_file, candidates)
    test = [p for p in candidates if p.stem in labels]
    if not test:
        raise ValueError(f"no video in {videos_dir} has a label in {labels_file}")
    train = videos_in(train_dir)
    if not train:
        raise FileNotFoundError(f"no training videos in {train_dir}")
    return Camera(Path(videos_dir).name, train, test, labels, fps)


class _Clock:
    """Wall and CPU seconds since the last lap. On a shared machine the wall figure drops when
    other jobs steal cycles; the CPU figure (this process, one thread with OMP_NUM_THREADS=1 and
    VAD_ENCODERS__THREADS=1) is what one dedicated core does."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        spent = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return spent


class _Side:
    """One detector of a row: fit time, scores per clip, scoring time (decoding excluded)."""

    def __init__(self) -> None:
        self.fit = (0.0, 0.0)  # wall, CPU seconds
        self.scoring = [0.0, 0.0]
        self.frames = 0
        self.scores: dict[str, np.ndarray] = {}
        self.terms: dict[str, dict[str, np.ndarray]] = {}

    def add(self, name: str, clip: AnalysedClip, scores, spent: tuple[float, float]) -> None:
        """`scores` of the clip's analysed frames, held over its decoded frames."""
        self.scores[name] = np.asarray(clip.held(scores), np.float64)
        self.scoring = [self.scoring[0] + spent[0], self.scoring[1] + spent[1]]
        self.frames += len(clip.frames)


def _rate(frames: int, seconds: float) -> float | None:
    return round(frames / seconds, 1) if seconds > 0 else None


def _figures(side: _Side, labels: Mapping[str, np.ndarray]) -> dict:
    pooled = _pooled(labels, side.scores)
    videos = per_video_auc(labels, side.scores)
    return {
        "auc": pooled["auc"],
        "ap": pooled["ap"],
        "mean_video_auc": float(np.mean(list(videos.values()))) if videos else None,
        "per_video_auc": videos,
        "fit_seconds": round(side.fit[0], 2),
        "fit_cpu_seconds": round(side.fit[1], 2),
        "scoring_fps": _rate(side.frames, side.scoring[0]),
        "scoring_fps_cpu": _rate(side.frames, side.scoring[1]),
    }


def _pooled(labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray]) -> dict:
    names = list(scores)
    return frame_metrics(
        np.concatenate([labels[n] for n in names]), np.concatenate([scores[n] for n in names])
    )


def evaluate_camera(
    camera: Camera,
    make_stage1: Callable[[], Stage1],
    variant: Variant = PLAIN,
    progress: Progress = _quiet,
    scores_out: Path | None = None,
) -> dict:
    """One row: stage 1 and the reference fitted on `camera.train`, scored on `camera.test`."""
    row = camera.name if variant is PLAIN else f"{camera.name} ({variant.name})"
    total, done = 2 * len(camera.train) + len(camera.test), 0

    def clips(phase: str) -> Iterator[list[np.ndarray]]:
        nonlocal done
        for path in camera.train:
            yield variant.clip(path, camera.fps, camera.frame_limit).frames
            done += 1
            progress(row, phase, done, total)

    stage1, ours, reference, labels = make_stage1(), _Side(), _Side(), {}
    progress(row, "fitting stage 1", done, total)
    clock = _Clock()
    fit_rate = variant.rate(camera.train[0], camera.fps) if camera.train else None
    stage1.fit(clips("fitting stage 1"), fit_rate)
    ours.fit = clock.lap()
    flow = ReferenceFlow.fit(clips("fitting the reference"))
    reference.fit = clock.lap()
    rates: set[tuple[float | None, float]] = set()
    for path in camera.test:
        clip = variant.clip(path, camera.fps, camera.frame_limit)
        rates.add((clip.source_fps, clip.rate))
        clock.lap()
        result = stage1.score(clip.frames, clip.rate)
        ours.add(path.stem, clip, result.fused, clock.lap())
        reference.add(path.stem, clip, flow.score(clip.frames), clock.lap())
        for term, values in result.terms.items():
            ours.terms.setdefault(term, {})[path.stem] = clip.held(values)
        labels[path.stem] = variant.labels(camera.labels[path.stem], camera.frame_limit)
        done += 1
        progress(row, "scoring", done, total)
    _cut(labels, ours, reference)
    out = {
        "dataset": camera.name,
        "variant": variant.name,
        **_frame_rates(rates),
        "videos": len(labels),
        "frames": int(sum(len(y) for y in labels.values())),
        "analysed_frames": ours.frames,
        "anomalous_frames": int(sum(int(y.sum()) for y in labels.values())),
        "train_videos": len(camera.train),
        "stage1": {
            "parts": stage1.parts,
            **_figures(ours, labels),
            "term_auc": {t: _pooled(labels, s)["auc"] for t, s in ours.terms.items()},
        },
        "reference": _figures(reference, labels),
    }
    if scores_out is not None:
        _write_scores(Path(scores_out), out, variant, labels, ours, reference)
    return out


def _frame_rates(rates: set[tuple[float | None, float]]) -> dict:
    """The row's camera frame rate and the rate its frames were analysed at (one value when
    every test clip agrees, else the list)."""

    def one(values: set) -> float | list | None:
        rounded = sorted({round(v, 3) for v in values if v}) or [None]
        return rounded[0] if len(rounded) == 1 else rounded

    return {
        "camera_fps": one({source for source, _ in rates}),
        "analysed_fps": one({rate for _, rate in rates}),
    }


def _cut(labels: dict[str, np.ndarray], *sides: _Side) -> None:
    """Labels and scores to their common length (containers may disagree by a frame or two)."""
    for name in labels:
        n = min(len(labels[name]), *(len(s.scores[name]) for s in sides))
        labels[name] = labels[name][:n]
        for side in sides:
            side.scores[name] = side.scores[name][:n]
            for term in side.terms.values():
                term[name] = term[name][:n]


def _write_scores(
    root: Path, row: dict, variant: Variant, labels, ours: _Side, reference: _Side
) -> None:
    """<root>/<dataset>/<variant>/{labels,stage1,stage1-<term>,reference}.npz, one array per
    test clip (NaN = no score), and the row's figures (row.json), written as each row ends, so
    later analyses need no rerun."""
    folder = root / row["dataset"] / variant.name.replace(" ", "-")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "row.json").write_text(json.dumps(row, indent=2))
    np.savez_compressed(folder / "labels.npz", **labels)
    np.savez_compressed(folder / "stage1.npz", **ours.scores)
    for term, scores in ours.terms.items():
        np.savez_compressed(folder / f"stage1-{term}.npz", **scores)
    np.savez_compressed(folder / "reference.npz", **reference.scores)


def suite_cameras(
    root: Path,
    robustness: str | None = ROBUSTNESS_DATASET,
    frame_limit: int | None = None,
    *,
    fps: float,
) -> list[tuple[Camera, Variant]]:
    """Every dataset under `root` as recorded, analysed at `fps`, and the dataset named
    `robustness` also at half and double the frame rate and upscaled 2x (no such rows when it is
    not there)."""
    rows = []
    for folder in discover_datasets(root):
        camera = dataset_camera(folder, frame_limit=frame_limit, fps=fps)
        variants = (PLAIN, *ROBUSTNESS) if folder.name == robustness else (PLAIN,)
        rows += [(camera, variant) for variant in variants]
    return rows


def run_rows(
    cameras: list[tuple[Camera, Variant]],
    make_stage1: Callable[[], Stage1],
    progress: Progress = _quiet,
    scores_out: Path | None = None,
) -> dict:
    """The suite's result: what stage 1 fused, and one row per (camera, variant)."""
    rows = [evaluate_camera(c, make_stage1, v, progress, scores_out) for c, v in cameras]
    return {"stage1_parts": rows[0]["stage1"]["parts"] if rows else [], "rows": rows}


TABLE_HEADER = (
    "dataset",
    "variant",
    "fps camera/analysed",
    "frames",
    "stage 1 AUC",
    "AP",
    "video AUC",
    "fit s wall/CPU",
    "frames/s wall/CPU",
    "reference AUC",
    "AP",
    "video AUC",
    "fit s wall/CPU",
    "frames/s wall/CPU",
)


def _fps(value: float | list | None) -> str:
    if isinstance(value, list):
        return ",".join(_fps(v) for v in value)
    return "-" if value is None else f"{value:g}"


def table_rows(result: dict) -> list[list[str]]:
    """The suite's table, one list of cells per row in `TABLE_HEADER` order ('-' = none)."""

    def fmt(value: object, digits: int = 3) -> str:
        if value is None:
            return "-"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    def side(figures: dict) -> list[str]:
        return [
            fmt(figures["auc"]),
            fmt(figures["ap"]),
            fmt(figures["mean_video_auc"]),
            f"{fmt(figures['fit_seconds'], 1)}/{fmt(figures.get('fit_cpu_seconds'), 1)}",
            f"{fmt(figures['scoring_fps'], 0)}/{fmt(figures.get('scoring_fps_cpu'), 0)}",
        ]

    return [
        [
            row["dataset"],
            row["variant"],
            f"{_fps(row.get('camera_fps'))}/{_fps(row.get('analysed_fps'))}",
            str(row["frames"]),
        ]
        + side(row["stage1"])
        + side(row["reference"])
        for row in result["rows"]
    ]
