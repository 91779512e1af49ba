"""Incremental updates of a camera's stage-1 models: "this was normal" learned in seconds.

An operator's false alarm (or any normal footage) is added to the models a camera already has
without refitting them: each family that can learn from new normal frames has an
`extend(clips) -> new model` method (`NormalityModel.extend`: append to each cell's memory;
`VelocityModel.extend`: raise each cell's normal speed; the object and appearance models
`extend(clips, encoder)`: run their detector / tile encoder on the frames, append boxes / tile
embeddings) that, when asked (`recalibrate`), also recalibrates on held-out folds of the new
frames, weighted against what the model has already seen. A family adds itself by implementing
`extend` and naming its file in `FAMILIES`; a model whose encoder is not loaded is kept as it was
(and said so).

**Calibration is kept by default** (`feedback.recalibrate=false`): every family's raw
novelty can only fall when normal frames are added (a nearest-neighbour distance to a larger
memory, a cell's normal speed that only rises), so the parent's calibration stays a valid,
conservative one for all other footage: the false alarm stops firing where it looked like that,
and nothing else changes. Recalibrating instead merges the false alarm's held-out scores (novel by
definition: they fired) into the camera-wide tail, lowering every score everywhere: on Ped1's
first half, one false alarm's update then silenced 41 % of the frames over the threshold the
operator had not marked, against 1 % with the calibration kept (bench/feedback.py --updates,
docs/benchmarks-normality.md; chosen on that label-free effect, not on the test labels' recall).
Skipping it also skips the held-out scoring, a good part of an update's time.

**A lesson is exact by default** (`feedback.spread=0`): the pixel model learns the false alarm's
descriptors in the cells that saw them, the velocity model its speeds there. `spread` (a fraction
of the frame width) also gives each cell its neighbours' lesson; measured on held-out training
clips and on Ped1/Ped2 (bench/feedback_heldout.py, bench/feedback.py --spreads,
docs/benchmarks-normality.md) it removed few of the next false alarms - they come from other
walkers, often another term and another place - and cost anomalies near the taught place.

`extend_folder` turns one model folder (a registered version) into the next: copy, extend, save,
and record what the new version learned from.

What an encoder already computed for these frames need not be computed again: the worker stored
its detections of every scored frame (`frame_detections`), so a family that can learn from them
(`Family.extend_recorded`: the object model's `extend_detections`) takes them as `Recorded`
instead of loading and running its detector again (about a third of a Ped2-sized update:
bench/feedback_speed.py).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vad.scoring.appearance_normality import APPEARANCE_JSON, AppearanceNormalityModel
from vad.scoring.normality import NormalityModel
from vad.scoring.object_normality import OBJECTS_JSON, ObjectNormalityModel
from vad.scoring.velocity import VELOCITY_JSON, VelocityModel


@dataclass(frozen=True)
class Family:
    """A stage-1 model kind stored in a camera's model folder that learns incrementally."""

    name: str
    filename: str  # its presence in a folder means the folder holds this family
    load: Callable[[Path], Any]
    encoder: str | None = None  # the encoder its `extend(clips, encoder)` needs: tiles, detector
    # its method learning the encoder's outputs per frame (`Recorded`) instead of the frames
    extend_recorded: str | None = None


FAMILIES: tuple[Family, ...] = (
    Family("pixel", "model.json", NormalityModel.load),
    Family("velocity", VELOCITY_JSON, VelocityModel.load),
    Family("objects", OBJECTS_JSON, ObjectNormalityModel.load, "detector", "extend_detections"),
    Family("appearance", APPEARANCE_JSON, AppearanceNormalityModel.load, "tiles"),
)


@dataclass(frozen=True)
class Recorded:
    """An encoder's outputs for every frame of the clips (in clip order, flattened), computed
    when the frames were scored: e.g. the worker's detections (`frame_detections`)."""

    encoder: str  # the encoder's name: only a model fitted with it learns these
    outputs: Sequence[Any]


def _fitted_with(model: Any) -> str | None:
    return getattr(model, "detector", None) or getattr(model, "encoder", None)


def extend_model(
    family: Family,
    model: Any,
    clips: Sequence[Sequence[np.ndarray]],
    encoders: Mapping[str, Any],
    recorded: Mapping[str, Recorded] | None = None,
    recalibrate: bool = False,
    spread: float = 0.0,
) -> tuple[Any, str]:
    """(model, what happened): the model having learned the encoder's `recorded` outputs when
    they fit it (same encoder, one per frame), else `model.extend(clips[, encoder])`, or the model
    kept when the encoder it was fitted with is not loaded here. Its calibration is kept unless
    `recalibrate` (the module docstring says why)."""
    kept = (recorded or {}).get(family.encoder or "")
    frames = sum(len(c) for c in clips)
    how = ""
    if family.encoder is None:
        learned = model.extend(clips, recalibrate, spread)
    elif (
        kept is not None
        and family.extend_recorded
        and kept.encoder == _fitted_with(model)
        and len(kept.outputs) == frames
    ):
        learned = getattr(model, family.extend_recorded)(kept.outputs, recalibrate)
        how = " (stored outputs)"
    else:
        encoder = encoders.get(family.encoder)
        fitted = _fitted_with(model)
        if encoder is None or encoder.name != fitted:
            running = f"this process runs {encoder.name!r}" if encoder else "not loaded here"
            return model, f"{family.name}: kept (fitted with {fitted!r}; {running})"
        learned = model.extend(clips, encoder, recalibrate)
    if not recalibrate:
        learned.metadata["calibration"] = "kept from the parent (feedback.recalibrate=false)"
        how += ", calibration kept"
    added, seconds = learned.metadata.get("frames_added", 0), learned.metadata["extend_seconds"]
    return learned, f"{family.name}: +{added} frames in {seconds:.2f} s{how}"


def extend_models(
    models: Mapping[str, Any],
    clips: Sequence[Sequence[np.ndarray]],
    encoders: Mapping[str, Any] | None = None,
    recalibrate: bool = False,
    spread: float = 0.0,
) -> dict:
    """{family name: model or None} -> the same names, each model having learned `clips`
    (None stays None; see `extend_model`)."""
    if not any(len(c) for c in clips):
        raise ValueError("no frames to learn from")
    by_name = {f.name: f for f in FAMILIES}
    return {
        name: None
        if model is None
        else extend_model(by_name[name], model, clips, encoders or {}, None, recalibrate, spread)[0]
        for name, model in models.items()
    }


@dataclass(frozen=True)
class Extension:
    """What one incremental update did: per family a line, and the seconds it took."""

    lines: dict[str, str]
    seconds: float
    frames: int


def extend_folder(
    source: Path,
    target: Path,
    clips: Sequence[Sequence[np.ndarray]],
    learned_from: dict,
    encoders: Mapping[str, Any] | None = None,
    recorded: Mapping[str, Recorded] | None = None,
    recalibrate: bool = False,
    spread: float = 0.0,
) -> Extension:
    """Write a new model folder `target`: `source`'s files, with every family of `FAMILIES`
    present there extended by `clips` (`encoders`: {"tiles": ..., "detector": ...} for the
    families that need one; `recorded`: {"detector": Recorded(...)} outputs already computed for
    these frames, used instead of the encoder when they fit; `recalibrate`: see
    the module docstring); `learned_from` (parent version,
    incidents, frame ranges) goes into each extended model's metadata. Files of families that
    cannot learn here are copied unchanged. `target` must not exist; on error it is removed."""
    started = time.perf_counter()
    source, target = Path(source), Path(target)
    if not any(len(c) for c in clips):
        raise ValueError("no frames to learn from")
    shutil.copytree(source, target)
    try:
        lines = {}
        for family in (f for f in FAMILIES if (source / f.filename).exists()):
            original = family.load(source)
            model, lines[family.name] = extend_model(
                family, original, clips, encoders or {}, recorded, recalibrate, spread
            )
            if model is not original:
                model.metadata["learned_from"] = learned_from
                model.save(target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    frames = sum(len(c) for c in clips)
    return Extension(lines, round(time.perf_counter() - started, 3), frames)
