"""End-to-end offline evaluation of the normality model: fit on normal clips, score test clips.

Scores are produced exactly as in the live path (causal smoothing, calibrated), whole video at a
time, on the frames a worker analysing the camera at `fps` keeps (`vad.video.analysed_frames`;
every decoded frame takes the score in force at its time); metrics are frame-level and pooled
over all test frames (the "micro" AUC of the literature).
With an image encoder (`appearance=`), the appearance model is fitted on the same training footage
and fused by max, as the worker does; the pixel model's own figure is reported next to it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from vad.eval.datasets import ped2_labels, read_ucf_annotations, ucf_frame_labels
from vad.eval.metrics import frame_metrics, per_video_auc
from vad.scoring.appearance_normality import (
    AppearanceNormalityConfig,
    AppearanceNormalityModel,
    embed_tiles,
    fit_appearance_model,
)
from vad.scoring.fusion import fuse
from vad.scoring.normality import NormalityConfig, NormalityModel, fit_normality_model
from vad.scoring.velocity import VelocityConfig, VelocityModel, fit_velocity_from_greys, to_grey
from vad.video import analysed_frames

_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")


def _videos_in(directory: Path) -> list[Path]:
    return sorted(p for p in Path(directory).iterdir() if p.suffix.lower() in _VIDEO_SUFFIXES)


def _fit(
    train_dir: Path, config: NormalityConfig, velocity: VelocityConfig | None, fps: float
) -> tuple[NormalityModel, VelocityModel | None, float]:
    """The pixel model and (unless `velocity` is None or disabled) the velocity model, fitted from
    one decode of the training videos at the analysis rate `fps`, as `vad camera learn` does."""
    paths = _videos_in(train_dir)
    if not paths:
        raise FileNotFoundError(f"no training videos in {train_dir}")
    started = time.perf_counter()
    use_velocity = velocity is not None and velocity.enabled
    greys: list[list[np.ndarray]] = []

    def clip(path: Path):
        if use_velocity:
            greys.append([])
        for frame in analysed_frames(path, fps).frames:
            if use_velocity:
                greys[-1].append(to_grey(frame, velocity.width))
            yield frame

    model = fit_normality_model((clip(p) for p in paths), config)
    motion = fit_velocity_from_greys(greys, model.frame_size, velocity) if use_velocity else None
    return model, motion, time.perf_counter() - started


class Appearance:
    """The appearance model of an evaluation: fitted on the training clips with `encoder`."""

    def __init__(self, encoder, config: AppearanceNormalityConfig | None = None) -> None:
        self.encoder = encoder
        self.config = config or AppearanceNormalityConfig()
        self.model: AppearanceNormalityModel | None = None
        self.fit_seconds = 0.0

    def fit(self, paths: list[Path], fps: float) -> None:
        """Embed every `learn_every`-th analysed frame's tiles and fit (timed together, as
        learning is)."""
        started = time.perf_counter()
        clips, size = [], None
        for path in paths:
            frames = analysed_frames(path, fps).frames[:: self.config.learn_every]
            if frames:
                size = size or (int(frames[0].shape[1]), int(frames[0].shape[0]))
                clips.append(embed_tiles(self.encoder, frames, self.config.tile_rows))
        self.model = fit_appearance_model(clips, self.encoder.name, size, self.config)
        self.fit_seconds = time.perf_counter() - started

    def scores(self, frames: list[np.ndarray]) -> np.ndarray:
        """The appearance model's calibrated score per frame (fused by the caller)."""
        tiles = embed_tiles(self.encoder, frames, self.config.tile_rows)
        return np.array([v.score for v in self.model.score(tiles)])


def _score_all(
    model: NormalityModel,
    videos: Iterable[Path],
    fps: float,
    appearance: Appearance | None = None,
    velocity: VelocityModel | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]], int, float]:
    """(fused scores, each term's own scores) per video stem and decoded frame, frames scored,
    seconds spent scoring (decode excluded); the frames analysed at `fps` are scored, fused by
    `vad.scoring.fusion` exactly as the worker fuses, and held over the frames in between."""
    scores: dict[str, np.ndarray] = {}
    terms_by_name: dict[str, dict[str, np.ndarray]] = {}
    frames_total, seconds = 0, 0.0
    for path in videos:
        clip = analysed_frames(path, fps)
        frames = clip.frames
        started = time.perf_counter()
        terms = {"pixel": model.score_frames(frames)[1]}
        if velocity is not None:
            terms["velocity"] = velocity.score_frames(frames)[1]
        if appearance is not None:
            terms["appearance"] = appearance.scores(frames)
        scores[path.stem] = clip.held(fuse(terms, primary="pixel").scores)
        seconds += time.perf_counter() - started
        for name, values in terms.items():
            terms_by_name.setdefault(name, {})[path.stem] = clip.held(values)
        frames_total += len(frames)
    return scores, terms_by_name, frames_total, seconds


def _report(
    labels: Mapping[str, np.ndarray],
    scores: Mapping[str, np.ndarray],
    fit_seconds: float,
    frames: int,
    seconds: float,
    model: NormalityModel,
    scores_out: Path | None,
    terms: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    appearance: Appearance | None = None,
) -> dict:
    aligned = {name: _align(labels[name], scores[name]) for name in scores}
    pooled = _pooled(labels, scores)
    if scores_out is not None:
        payload = {
            n: [None if not np.isfinite(v) else round(float(v), 6) for v in s]
            for n, s in scores.items()
        }
        Path(scores_out).write_text(json.dumps(payload))
    return {
        **pooled,
        "videos": len(scores),
        "per_video_auc": per_video_auc(
            {n: a[0] for n, a in aligned.items()}, {n: a[1] for n, a in aligned.items()}
        ),
        "fit_seconds": round(fit_seconds, 2),
        "train_frames": model.metadata.get("frames_seen"),
        "scoring_fps": round(frames / seconds, 1) if seconds > 0 else None,
        "internal_size": list(model.internal),
        "mean_per_video_auc": _mean_per_video(labels, scores),
        **{f"{name}_only_auc": _pooled(labels, own)["auc"] for name, own in (terms or {}).items()},
        **{
            f"{name}_only_mean_per_video_auc": _mean_per_video(labels, own)
            for name, own in (terms or {}).items()
        },
        **(_appearance_figures(appearance) if appearance is not None else {}),
    }


def _pooled(labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray]) -> dict:
    aligned = {name: _align(labels[name], scores[name]) for name in scores}
    return frame_metrics(
        np.concatenate([aligned[n][0] for n in scores]),
        np.concatenate([aligned[n][1] for n in scores]),
    )


def _mean_per_video(labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray]):
    aligned = {name: _align(labels[name], scores[name]) for name in scores}
    aucs = per_video_auc(
        {n: a[0] for n, a in aligned.items()}, {n: a[1] for n, a in aligned.items()}
    )
    return round(float(np.mean(list(aucs.values()))), 4) if aucs else None


def _appearance_figures(appearance: Appearance) -> dict:
    return {
        "appearance_encoder": appearance.encoder.name,
        "appearance_train_frames": appearance.model.metadata["frames_seen"],
        "appearance_fit_seconds": round(appearance.fit_seconds, 2),
    }


def _align(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores cut to the common length (containers may disagree by a frame or two)."""
    n = min(len(labels), len(scores))
    return np.asarray(labels[:n]), np.asarray(scores[:n])


def evaluate_ped2(
    data_dir: Path,
    config: NormalityConfig | None = None,
    subset: Iterable[str] | None = None,
    scores_out: Path | None = None,
    appearance: Appearance | None = None,
    velocity: VelocityConfig | None = None,
    *,
    fps: float,
) -> dict:
    """Fit on `train/`, score `test/` (or the `subset` of test videos named), frame metrics;
    `fps` = the camera's analysis rate (`settings.ingest.default_fps`: what the worker runs)."""
    data_dir = Path(data_dir)
    labels = ped2_labels(data_dir / "test_labels.json")
    wanted = set(subset) if subset is not None else set(labels)
    unknown = wanted - set(labels)
    if unknown:
        raise ValueError(f"unknown Ped2 test videos: {sorted(unknown)}")
    model, motion, fit_seconds = _fit(
        data_dir / "train", config or NormalityConfig(), velocity, fps
    )
    if appearance is not None:
        appearance.fit(_videos_in(data_dir / "train"), fps)
    paths = [p for p in _videos_in(data_dir / "test") if p.stem in wanted]
    scores, terms, frames, seconds = _score_all(model, paths, fps, appearance, motion)
    return _report(
        labels, scores, fit_seconds, frames, seconds, model, scores_out, terms, appearance
    )


def labels_for(labels_file: Path, videos: list[Path]) -> dict[str, np.ndarray]:
    """Ped2-style JSON or UCF-Crime-style temporal annotation, by file suffix."""
    if Path(labels_file).suffix.lower() == ".json":
        return ped2_labels(labels_file)
    annotations = read_ucf_annotations(labels_file)
    from vad.video import video_info  # local: only this branch needs container frame counts

    return {
        p.stem: ucf_frame_labels(annotations[p.stem], video_info(p).frame_count)
        for p in videos
        if p.stem in annotations
    }


def evaluate_videos(
    train_dir: Path,
    videos_dir: Path,
    labels_file: Path,
    config: NormalityConfig | None = None,
    scores_out: Path | None = None,
    appearance: Appearance | None = None,
    velocity: VelocityConfig | None = None,
    *,
    fps: float,
) -> dict:
    """Fit on every video of `train_dir` (normal footage of one camera), score the labelled videos
    of `videos_dir`, both at the analysis rate `fps`; labels from a UCF-Crime temporal
    annotation file or a Ped2-style JSON."""
    candidates = _videos_in(videos_dir)
    labels = labels_for(labels_file, candidates)
    paths = [p for p in candidates if p.stem in labels]
    if not paths:
        raise ValueError(f"no video in {videos_dir} has a label in {labels_file}")
    model, motion, fit_seconds = _fit(Path(train_dir), config or NormalityConfig(), velocity, fps)
    if appearance is not None:
        appearance.fit(_videos_in(Path(train_dir)), fps)
    scores, terms, frames, seconds = _score_all(model, paths, fps, appearance, motion)
    return _report(
        labels, scores, fit_seconds, frames, seconds, model, scores_out, terms, appearance
    )
