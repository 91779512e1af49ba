"""Which stage-1 scorer a camera uses: its latest fitted normality model, else the motion baseline.

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
        with self.sessions() as session:
            record = queries.latest_model(session, camera_id)
            path = record.path if record else None
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
