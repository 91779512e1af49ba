"""Incremental updates of a camera's stage-1 models: "this was normal" learned in seconds.

An operator's false alarm (or any normal footage) is added to the models a camera already has
without refitting them: each family that can learn from new normal frames has an
`extend(clips) -> new model` method (`NormalityModel.extend`: append to each cell's memory;
`VelocityModel.extend`: raise each cell's normal speed) that also recalibrates on held-out folds
of the new frames, weighted against what the model has already seen. A family adds itself by
implementing `extend` and naming its file in `FAMILIES`; a family without one is kept as it was
(and said so).

`extend_folder` turns one model folder (a registered version) into the next: copy, extend, save,
and record what the new version learned from.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vad.scoring.normality import NormalityModel
from vad.scoring.velocity import VELOCITY_JSON, VelocityModel


@dataclass(frozen=True)
class Family:
    """A stage-1 model kind stored in a camera's model folder that learns incrementally."""

    name: str
    filename: str  # its presence in a folder means the folder holds this family
    load: Callable[[Path], Any]


FAMILIES: tuple[Family, ...] = (
    Family("pixel", "model.json", NormalityModel.load),
    Family("velocity", VELOCITY_JSON, VelocityModel.load),
)


def extend_models(models: Mapping[str, Any], clips: Sequence[Sequence[np.ndarray]]) -> dict:
    """{name: model or None} -> the same names, each model with `extend` having learned `clips`
    (models without `extend` and None are returned as they are)."""
    if not any(len(c) for c in clips):
        raise ValueError("no frames to learn from")
    return {
        name: model.extend(clips) if hasattr(model, "extend") else model
        for name, model in models.items()
    }


@dataclass(frozen=True)
class Extension:
    """What one incremental update did: per family a line, and the seconds it took."""

    lines: dict[str, str]
    seconds: float
    frames: int


def extend_folder(
    source: Path, target: Path, clips: Sequence[Sequence[np.ndarray]], learned_from: dict
) -> Extension:
    """Write a new model folder `target`: `source`'s files, with every family of `FAMILIES`
    present there extended by `clips`; `learned_from` (parent version, incidents, frame
    ranges) goes into each extended model's metadata. The files of families that cannot learn
    incrementally are copied unchanged. `target` must not exist; on error it is removed."""
    started = time.perf_counter()
    source, target = Path(source), Path(target)
    shutil.copytree(source, target)
    try:
        present = [f for f in FAMILIES if (source / f.filename).exists()]
        loaded = {f.name: f.load(source) for f in present}
        extended = extend_models(loaded, clips)
        lines = {}
        for family in present:
            model = extended[family.name]
            model.metadata["learned_from"] = learned_from
            model.save(target)
            lines[family.name] = (
                f"{family.name}: +{model.metadata.get('frames_added', 0)} frames "
                f"in {model.metadata.get('extend_seconds', 0):.2f} s"
            )
        for other in sorted(p.name for p in source.iterdir()):
            if other not in {f.filename for f in present} and other.endswith(".json"):
                lines[other] = f"{other}: kept (no incremental update for this model yet)"
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    frames = sum(len(c) for c in clips)
    return Extension(lines, round(time.perf_counter() - started, 3), frames)
