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


def _video(path, fps: float, frames: int):
    """Frame i is a grey level 4 * i over a little noise (the pruner keeps every one)."""
    import cv2

    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for i in range(frames):
        noise = rng.integers(0, 40, (48, 64, 3), dtype=np.uint8)
        writer.write(np.full((48, 64, 3), 4 * i, np.uint8) + noise)
    writer.release()
    return path


def test_learning_clips_carry_the_stride_rate_and_media_times(tmp_path) -> None:
    from service.learn import scene_clock
    from service.learning import file_clips

    config = Settings(_env_file=None, model_dir=tmp_path).ingest
    (clip,) = file_clips([_video(tmp_path / "cam.avi", 25, 30)], 10.0, config)
    assert clip.rate is None and clip.times == []  # nothing is read before the models ask
    frames = list(clip)
    assert len(frames) == 10 and clip.rate == 25 / 3  # every 3rd frame: 8.3 fps, even steps
    np.testing.assert_allclose(clip.times, [0.12 * i for i in range(10)], atol=1e-6)
    # the scene norms track objects by those times, not by the camera's setting (10 fps)
    assert scene_clock(clip, 10, 10.0) == clip.times
    assert scene_clock(iter(frames), 10, 10.0) == [i / 10 for i in range(10)]
