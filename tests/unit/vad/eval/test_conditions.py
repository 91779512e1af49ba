"""Camera conditions (vad/eval/conditions.py): what each transform does to a frame, seeded alike
every run, and nothing else."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vad.eval.conditions import (
    CONDITIONS,
    compressed,
    dimmed,
    in_condition,
    noisy,
    shaken,
)


def _frames(n: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(n)]


def test_shaken_frames_move_by_whole_pixels_within_reach_the_same_every_run() -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (60, 100, 3), dtype=np.uint8) for _ in range(20)]
    moved = shaken(frames, 0.03, "test_01.mp4")  # up to 3 px
    again, other = shaken(frames, 0.03, "test_01.mp4"), shaken(frames, 0.03, "other")
    assert all(np.array_equal(a, b) for a, b in zip(moved, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(moved, other, strict=True))
    shifts = set()
    for original, frame in zip(frames, moved, strict=True):
        found = [
            (dx, dy)
            for dx in range(-3, 4)
            for dy in range(-3, 4)
            if np.array_equal(frame[5:-5, 5:-5], np.roll(original, (dy, dx), (0, 1))[5:-5, 5:-5])
        ]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 5


def test_dim_halves_every_grey_level() -> None:
    frames = _frames()
    out = dimmed(frames)
    for original, frame in zip(frames, out, strict=True):
        assert frame.dtype == np.uint8 and frame.shape == original.shape
        assert np.abs(frame.astype(int) - original.astype(int) / 2).max() <= 0.5
    assert np.array_equal(dimmed([np.full((2, 2), 255, np.uint8)])[0], np.full((2, 2), 128))


def test_noise_has_its_sigma_in_grey_is_new_every_frame_and_seeded_by_name() -> None:
    flat = [np.full((120, 160, 3), 128, np.uint8) for _ in range(3)]
    out = noisy(flat, "train_01")
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(float) - 128 for f in out]
    assert all(abs(g.std() - 6.0) < 0.3 and abs(g.mean()) < 0.2 for g in grey)
    assert not np.array_equal(out[0], out[1])
    again, other = noisy(flat, "train_01"), noisy(flat, "train_02")
    assert all(np.array_equal(a, b) for a, b in zip(out, again, strict=True))
    assert not np.array_equal(out[0], other[0])
    assert np.array_equal(noisy([np.zeros((4, 4), np.uint8)], "x")[0] >= 0, np.ones((4, 4), bool))


def test_jpeg_round_trips_each_frame_at_quality_20() -> None:
    frames = _frames(2)
    out = compressed(frames)
    for original, frame in zip(frames, out, strict=True):
        ok, data = cv2.imencode(".jpg", original, [cv2.IMWRITE_JPEG_QUALITY, 20])
        assert ok and np.array_equal(frame, cv2.imdecode(data, cv2.IMREAD_COLOR))
        assert frame.shape == original.shape and not np.array_equal(frame, original)
    grey = np.full((16, 16), 90, np.uint8)
    assert compressed([grey])[0].shape == (16, 16)


def test_in_condition_names_every_condition_and_leaves_clean_alone() -> None:
    frames = _frames(2)
    assert in_condition(frames, "clean", "a") is frames
    assert set(CONDITIONS) == {"dim", "noise", "jpeg"}
    for name, transform in CONDITIONS.items():
        expected = transform(frames, "a")
        got = in_condition(frames, name, "a")
        assert all(np.array_equal(x, y) for x, y in zip(got, expected, strict=True))
    with pytest.raises(ValueError, match="unknown condition 'fog'"):
        in_condition(frames, "fog", "a")
