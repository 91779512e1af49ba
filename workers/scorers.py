"""Which models score a camera: its latest fitted normality model (else the motion baseline) and
the object model fitted with it (when the detector is installed).

Models are looked up again every few seconds, so `vad camera learn` takes effect in running
workers without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from db import queries
from vad.config import Settings
from vad.scoring.base import Scorer
from vad.scoring.motion import MotionScorer
from vad.scoring.object_normality import OBJECTS_JSON, ObjectNormalityModel

log = logging.getLogger(__name__)
_RECHECK_SECONDS = 10.0
T = TypeVar("T")


class LatestModelCache(Generic[T]):
    """camera -> what `load` makes of the camera's latest model folder (None: no model yet).

    The registry is asked again every `_RECHECK_SECONDS`; `load` runs only when the folder
    changes, so a worker never reads a model file per window."""

    def __init__(self, sessions: sessionmaker[Session], load: Callable[[Path | None], T]) -> None:
        self.sessions = sessions
        self._load = load
        self._by_camera: dict[int, tuple[float, str | None, T]] = {}

    def for_camera(self, camera_id: int) -> T:
        cached = self._by_camera.get(camera_id)
        if cached and time.monotonic() - cached[0] < _RECHECK_SECONDS:
            return cached[2]
        with self.sessions() as session:
            record = queries.latest_model(session, camera_id)
            path = record.path if record else None
        if cached and cached[1] == path:
            value = cached[2]
        else:
            value = self._load(Path(path) if path else None)
        self._by_camera[camera_id] = (time.monotonic(), path, value)
        return value


class ScorerCache(LatestModelCache[Scorer]):
    """The camera's stage-1 scorer: its latest normality model, else the motion baseline."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        super().__init__(sessions, self._load_model)
        self.settings = settings
        self._motion = MotionScorer(settings.scoring)

    def _load_model(self, path: Path | None) -> Scorer:
        if path is None:
            return self._motion
        try:
            from vad.scoring.normality import NormalityModel
            from vad.scoring.normality.scorer import NormalityScorer

            return NormalityScorer(NormalityModel.load(path))
        except Exception as error:  # noqa: BLE001 - keep scoring with the baseline, loudly
            log.error("cannot load normality model %s (%s); using the motion baseline", path, error)
            return self._motion


class ObjectModelCache(LatestModelCache[ObjectNormalityModel | None]):
    """Each camera's object model: `objects.json` in its latest model folder, fitted with the
    detector the worker runs (a model fitted with another detector names other classes, so it is
    not used, and the log says so)."""

    def __init__(self, sessions: sessionmaker[Session], detector: str) -> None:
        super().__init__(sessions, self._load_model)
        self.detector = detector

    def _load_model(self, folder: Path | None) -> ObjectNormalityModel | None:
        if folder is None:
            return None
        if not (folder / OBJECTS_JSON).exists():
            log.info("no object model in %s (learned without a detector)", folder)
            return None
        try:
            model = ObjectNormalityModel.load(folder)
        except (OSError, ValueError, KeyError) as error:
            log.error("cannot load object model in %s (%s); object scoring off", folder, error)
            return None
        if model.detector != self.detector:
            log.error(
                "object model in %s was fitted with detector %r, this worker runs %r; object "
                "scoring off for this camera until `vad camera learn` refits it",
                folder,
                model.detector,
                self.detector,
            )
            return None
        return model
