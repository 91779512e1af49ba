"""`service/learn.py` without typer: which families a learn records, and why one is off."""

from __future__ import annotations

import numpy as np

from service.learn import appearance_recorder, object_recorder, velocity_recorder
from service.settings import Settings


def test_disabled_families_are_off_and_say_how(tmp_path) -> None:
    settings = Settings(
        _env_file=None,
        model_dir=tmp_path,
        velocity={"enabled": False},
        objects={"enabled": False},
        appearance={"enabled": False},
    )
    assert velocity_recorder(settings) is None
    recorder, note = object_recorder(settings)
    assert recorder is None and "VAD_OBJECTS__ENABLED=false" in note
    recorder, note = appearance_recorder(settings)
    assert recorder is None and note.startswith("appearance model: off")


def test_velocity_records_small_grey_frames(tmp_path) -> None:
    recorder = velocity_recorder(Settings(_env_file=None, model_dir=tmp_path))
    assert recorder is not None
    clip = [np.zeros((120, 160, 3), np.uint8) for _ in range(3)]
    assert len(list(next(recorder.wrap([clip])))) == 3
    assert len(recorder.clips[0]) == 3 and recorder.clips[0][0].ndim == 2
