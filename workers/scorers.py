"""Which models score a camera: its latest fitted normality model (else the motion baseline) and
the object and appearance models fitted with it (when the detector / the appearance encoder is
installed).

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

from db import model_registry, regions
from vad.masks import CameraRegions, ZoneLocator
from vad.scoring.appearance_normality import APPEARANCE_JSON, AppearanceNormalityModel
from vad.scoring.base import Scorer
from vad.scoring.motion import MotionScorer
from vad.scoring.object_normality import OBJECTS_JSON, ObjectNormalityModel
from vad.settings import CoreSettings

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
            record = model_registry.latest_model(session, camera_id)
            path = record.path if record else None
        if cached and cached[1] == path:
            value = cached[2]
        else:
            value = self._load(Path(path) if path else None)
        self._by_camera[camera_id] = (time.monotonic(), path, value)
        return value


class RegionCache:
    """camera -> its masks and zones (vad.masks) and a zone locator over them, read again every
    `_RECHECK_SECONDS`, so a mask drawn in the dashboard applies to running workers within
    seconds. Unchanged regions keep their objects (and their rasterised pixels)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._by_camera: dict[int, tuple[float, CameraRegions, ZoneLocator]] = {}

    def for_camera(self, camera_id: int) -> tuple[CameraRegions, ZoneLocator]:
        cached = self._by_camera.get(camera_id)
        if cached and time.monotonic() - cached[0] < _RECHECK_SECONDS:
            return cached[1], cached[2]
        with self.sessions() as session:
            found = regions.camera_regions(session, camera_id)
        if cached and cached[1] == found:
            found, locator = cached[1], cached[2]
        else:
            locator = ZoneLocator(found.zones)
        self._by_camera[camera_id] = (time.monotonic(), found, locator)
        return found, locator


class ScorerCache(LatestModelCache[Scorer]):
    """The camera's stage-1 scorer: its latest normality model (pixel model, plus the velocity
    model when the folder has one), else the motion baseline."""

    def __init__(self, settings: CoreSettings, sessions: sessionmaker[Session]) -> None:
        super().__init__(sessions, self._load_model)
        self.settings = settings
        self._motion = MotionScorer(settings.scoring)

    def _load_model(self, path: Path | None) -> Scorer:
        if path is None:
            return self._motion
        try:
            from vad.scoring.normality import NormalityModel
            from vad.scoring.normality.scorer import NormalityScorer
            from vad.scoring.velocity import VELOCITY_JSON, VelocityModel

            velocity = VelocityModel.load(path) if (path / VELOCITY_JSON).exists() else None
            if velocity is None:
                log.info(
                    "no velocity model in %s (learned before it existed): pixel model only", path
                )
            return NormalityScorer(NormalityModel.load(path), velocity)
        except Exception as error:  # noqa: BLE001 - keep scoring with the baseline, loudly
            log.error("cannot load normality model %s (%s); using the motion baseline", path, error)
            return self._motion


class CompanionModelCache(LatestModelCache[T | None]):
    """A model fitted next to the camera's normality model with an encoder's output (`filename`
    in its latest model folder), used only if it was fitted with the encoder this worker runs: a
    model of another detector names other classes, one of another CLIP lives in another space."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        kind: str,
        filename: str,
        load: Callable[[Path], T],
        fitted_with: Callable[[T], str],
        encoder: str,
    ) -> None:
        super().__init__(sessions, self._load_model)
        self.kind, self.filename, self.encoder = kind, filename, encoder
        self._read, self._fitted_with = load, fitted_with

    def _load_model(self, folder: Path | None) -> T | None:
        if folder is None:
            return None
        if not (folder / self.filename).exists():
            log.info("no %s model in %s (learned without its encoder)", self.kind, folder)
            return None
        try:
            model = self._read(folder)
        except (OSError, ValueError, KeyError) as error:
            log.error(
                "cannot load %s model in %s (%s); %s scoring off",
                self.kind,
                folder,
                error,
                self.kind,
            )
            return None
        if self._fitted_with(model) != self.encoder:
            log.error(
                "%s model in %s was fitted with %r, this worker runs %r; %s scoring off for this "
                "camera until `vad camera learn` refits it",
                self.kind,
                folder,
                self._fitted_with(model),
                self.encoder,
                self.kind,
            )
            return None
        return model


class ObjectModelCache(CompanionModelCache[ObjectNormalityModel]):
    """Each camera's object model (`objects.json`), fitted with the worker's detector."""

    def __init__(self, sessions: sessionmaker[Session], detector: str) -> None:
        super().__init__(
            sessions, "object", OBJECTS_JSON, ObjectNormalityModel.load, _detector_of, detector
        )


class AppearanceModelCache(CompanionModelCache[AppearanceNormalityModel]):
    """Each camera's appearance model (`appearance.json`), fitted with the worker's tile
    encoder."""

    def __init__(self, sessions: sessionmaker[Session], encoder: str) -> None:
        super().__init__(
            sessions,
            "appearance",
            APPEARANCE_JSON,
            AppearanceNormalityModel.load,
            _encoder_of,
            encoder,
        )


def _detector_of(model: ObjectNormalityModel) -> str:
    return model.detector


def _encoder_of(model: AppearanceNormalityModel) -> str:
    return model.encoder
