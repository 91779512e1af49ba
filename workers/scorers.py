"""Which models score a camera: its latest fitted normality model (else the motion baseline) and
the object model fitted with it (when the detector is installed).

Models are looked up again every few seconds, so `vad camera learn` takes effect in running
workers without a restart.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from db import queries
from vad.config import Settings
from vad.scoring.base import Scorer
from vad.scoring.motion import MotionScorer
from vad.scoring.object_normality import OBJECTS_JSON, ObjectNormalityModel

log = logging.getLogger(__name__)
_RECHECK_SECONDS = 10.0


class ScorerCache:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self._motion = MotionScorer(settings.scoring)
        self._by_camera: dict[int, tuple[float, str, Scorer]] = {}

    def for_camera(self, camera_id: int) -> Scorer:
        cached = self._by_camera.get(camera_id)
        if cached and time.monotonic() - cached[0] < _RECHECK_SECONDS:
            return cached[2]
        path = latest_model_path(self.sessions, camera_id)
        key = path or "motion"
        if cached and cached[1] == key:
            scorer = cached[2]
        elif path is None:
            scorer = self._motion
        else:
            scorer = self._load_model(Path(path))
        self._by_camera[camera_id] = (time.monotonic(), key, scorer)
        return scorer

    def _load_model(self, path: Path) -> Scorer:
        try:
            from vad.scoring.normality import NormalityModel
            from vad.scoring.normality.scorer import NormalityScorer

            return NormalityScorer(NormalityModel.load(path))
        except Exception as error:  # noqa: BLE001 - keep scoring with the baseline, loudly
            log.error("cannot load normality model %s (%s); using the motion baseline", path, error)
            return self._motion


def latest_model_path(sessions: sessionmaker[Session], camera_id: int) -> str | None:
    with sessions() as session:
        record = queries.latest_model(session, camera_id)
        return record.path if record else None


class ObjectModelCache:
    """Each camera's object model: `objects.json` in its latest model folder, fitted with the
    detector the worker runs (a model fitted with another detector names other classes, so it is
    not used, and the log says so)."""

    def __init__(self, sessions: sessionmaker[Session], detector: str) -> None:
        self.sessions = sessions
        self.detector = detector
        self._by_camera: dict[int, tuple[float, str | None, ObjectNormalityModel | None]] = {}

    def for_camera(self, camera_id: int) -> ObjectNormalityModel | None:
        cached = self._by_camera.get(camera_id)
        if cached and time.monotonic() - cached[0] < _RECHECK_SECONDS:
            return cached[2]
        path = latest_model_path(self.sessions, camera_id)
        if cached and cached[1] == path:
            model = cached[2]
        else:
            model = self._load(Path(path)) if path else None
        self._by_camera[camera_id] = (time.monotonic(), path, model)
        return model

    def _load(self, folder: Path) -> ObjectNormalityModel | None:
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
