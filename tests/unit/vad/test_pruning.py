"""Static-frame pruning on real UCSD Ped2 footage (plus a few synthetic edge cases)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.requirements import missing
from vad.codec import decode_jpeg, encode_jpeg
from vad.pruning import StaticFramePruner, changed_fraction, thumbnail

ROOT = Path(__file__).resolve().parents[3]
PED2 = ROOT.parent / "shared" / "data" / "ucsd_ped2"
CLIP = PED2 / "train" / "train_01.mp4"

# The ingest defaults (IngestConfig): 12 grey levels, 0.2 % of the pixels, a heartbeat every 2 s.
DELTA, FRACTION, HEARTBEAT = 12.0, 0.002, 2.0


def _read(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    try:
        while len(frames) < n:
            ok, image = cap.read()
            if not ok:
                break
            frames.append(image)
    finally:
        cap.release()
    return frames


@pytest.fixture(scope="module")
def ped2_frames() -> list[np.ndarray]:
    if not CLIP.exists():
        missing(f"UCSD Ped2 footage not found at {CLIP} (see ../shared/data/README.md)")
    frames = _read(CLIP, 40)
    if len(frames) < 40:
        missing(f"could not decode 40 frames from {CLIP}")
    return frames


def _pruner(heartbeat: float = HEARTBEAT, fraction: float = FRACTION) -> StaticFramePruner:
    return StaticFramePruner(
        pixel_delta=DELTA, min_changed_fraction=fraction, heartbeat_seconds=heartbeat
    )


def _noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = 2.5) -> np.ndarray:
    """The same scene as a camera delivers it again: sensor noise, then JPEG compression."""
    noisy = np.clip(image.astype(np.float32) + rng.normal(0, sigma, image.shape), 0, 255)
    decoded = decode_jpeg(encode_jpeg(noisy.astype(np.uint8), 85))
    assert decoded is not None
    return decoded


def _static_clip(background: np.ndarray, n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [_noisy(background, rng) for _ in range(n)]


# --- helpers -----------------------------------------------------------------------------------


def test_thumbnail_is_small_grey_float(ped2_frames) -> None:
    thumb = thumbnail(ped2_frames[0])
    assert thumb.shape == (96, 128) and thumb.dtype == np.float32
    grey = cv2.cvtColor(ped2_frames[0], cv2.COLOR_BGR2GRAY)
    np.testing.assert_allclose(thumbnail(grey), thumb)
    assert thumbnail(ped2_frames[0], (64, 48)).shape == (48, 64)


def test_changed_fraction_counts_pixels_over_the_delta() -> None:
    a = np.zeros((10, 10), np.float32)
    b = a.copy()
    b[:2, :] = 20.0  # 20 % of the pixels change a lot
    b[2:, :] = 5.0  # the rest change a little (noise)
    assert changed_fraction(a, b, 12.0) == pytest.approx(0.2)
    assert changed_fraction(b, a, 12.0) == pytest.approx(0.2)
    assert changed_fraction(a, b, 4.0) == pytest.approx(1.0)
    assert changed_fraction(a, a, 0.0) == 0.0


def test_noise_alone_changes_no_pixel_of_a_real_frame(ped2_frames) -> None:
    clip = _static_clip(ped2_frames[0], 5)
    thumbs = [thumbnail(f) for f in clip]
    assert max(changed_fraction(t, thumbs[0], DELTA) for t in thumbs[1:]) < FRACTION


# --- static scenes and the heartbeat ------------------------------------------------------------


def test_static_real_scene_is_pruned_down_to_the_heartbeat(ped2_frames) -> None:
    fps, seconds = 10, 10
    pruner = _pruner()
    clip = _static_clip(ped2_frames[0], fps * seconds)
    kept_at = [i / fps for i, image in enumerate(clip) if pruner.keep(image, i / fps)]
    assert kept_at == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert (pruner.kept, pruner.pruned) == (5, fps * seconds - 5)


@pytest.mark.parametrize(("fps", "heartbeat"), [(25, 0.5), (10, 2.0), (7, 3.0), (30, 1.0)])
def test_heartbeat_keeps_exactly_one_frame_per_period(fps: int, heartbeat: float) -> None:
    image = np.full((96, 128, 3), 90, np.uint8)
    pruner = _pruner(heartbeat)
    seconds = 30
    kept_at = [i / fps for i in range(fps * seconds) if pruner.keep(image, i / fps)]
    gaps = np.diff(kept_at)
    assert kept_at[0] == 0.0
    assert np.all(gaps >= heartbeat - 1e-9)  # never more often than the heartbeat...
    assert np.all(gaps < heartbeat + 1.0 / fps + 1e-9)  # ...and never a period without one
    # Measured from the last kept frame, so the period rounds up to whole frames.
    expected = int(np.ceil(heartbeat * fps - 1e-9))
    assert set(np.round(gaps * fps).astype(int)) == {expected}
    assert len(kept_at) == int(np.ceil(fps * seconds / expected))
    assert (pruner.kept, pruner.pruned) == (len(kept_at), fps * seconds - len(kept_at))


def test_heartbeat_is_measured_from_the_last_kept_frame_whatever_kept_it(ped2_frames) -> None:
    still, moved = ped2_frames[0], ped2_frames[10]
    pruner = _pruner()
    assert pruner.keep(still, 0.0)
    assert not pruner.keep(still, 1.0)
    assert pruner.keep(moved, 1.5)  # kept for changing, which resets the heartbeat
    assert not pruner.keep(moved, 3.0)  # 2 s after 0.0 but only 1.5 s after 1.5
    assert pruner.keep(moved, 3.5)


def test_heartbeat_uses_media_time_not_frame_count() -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    pruner = _pruner(heartbeat=2.0)
    assert pruner.keep(image, 100.0)
    assert not pruner.keep(image, 101.999)
    assert pruner.keep(image, 102.0)
    assert pruner.keep(image, 500.0)  # a gap in time counts as due at once


def test_heartbeat_survives_media_time_restarting_at_a_reconnect() -> None:
    image = np.full((48, 64, 3), 50, np.uint8)
    pruner = _pruner(heartbeat=2.0)
    for i in range(0, 6001):  # 600 s of a static live stream at 10 fps
        pruner.keep(image, i / 10)
    # The camera reconnects: a new VideoSource whose pts count from 0 again.
    kept_after = [i / 10 for i in range(0, 101) if pruner.keep(image, i / 10)]
    assert kept_after and kept_after[0] <= 2.0 and len(kept_after) >= 5


# --- motion is kept -----------------------------------------------------------------------------


def test_real_walking_pedestrians_are_all_kept(ped2_frames) -> None:
    pruner = _pruner()
    kept = [pruner.keep(image, i / 10) for i, image in enumerate(ped2_frames)]
    assert all(kept)
    assert (pruner.kept, pruner.pruned) == (len(ped2_frames), 0)


def test_real_frames_a_second_apart_on_a_real_clip_are_kept(ped2_frames) -> None:
    # Sampling the same clip at 1 fps: every frame differs enough from the last kept one.
    pruner = _pruner(heartbeat=1e9)
    assert all(pruner.keep(image, i) for i, image in enumerate(ped2_frames[::10]))


def test_a_small_object_moving_across_a_static_real_scene_is_kept(ped2_frames) -> None:
    rng = np.random.default_rng(1)
    background = ped2_frames[0]
    h, w = background.shape[:2]
    obj_h, obj_w = 24, 10  # a far-away person: under 0.3 % of the picture
    assert obj_h * obj_w / (h * w) < 0.003
    patch = np.full((obj_h, obj_w, 3), 30, np.uint8)

    def scene(x: int | None) -> np.ndarray:
        image = background.copy()
        if x is not None:
            image[100 : 100 + obj_h, x : x + obj_w] = patch
        return _noisy(image, rng)

    pruner = _pruner(heartbeat=1e9)  # no heartbeat: only change can keep a frame
    assert pruner.keep(scene(None), 0.0)
    assert [pruner.keep(scene(None), t) for t in (0.1, 0.2, 0.3)] == [False] * 3
    walking = [pruner.keep(scene(20 + 8 * i), 0.4 + i / 10) for i in range(30)]
    assert all(walking)
    stopped = [pruner.keep(scene(20 + 8 * 29), 3.4 + i / 10) for i in range(10)]
    assert not any(stopped)
    assert (pruner.kept, pruner.pruned) == (31, 13)


def test_slow_change_accumulates_against_the_last_kept_frame() -> None:
    # Each step changes every pixel by 1 grey level: never enough frame-to-frame, but the
    # comparison is with the last *kept* frame, so a frame is kept once the total passes 12.
    pruner = _pruner(heartbeat=1e9)
    kept = [i for i in range(60) if pruner.keep(np.full((96, 128), 40 + i, np.uint8), i * 0.1)]
    assert kept == [0, 13, 26, 39, 52]


def test_zero_changed_fraction_disables_pruning() -> None:
    pruner = _pruner(fraction=0.0, heartbeat=1e9)
    image = np.zeros((48, 64, 3), np.uint8)
    assert all(pruner.keep(image, i / 10) for i in range(20))
    assert (pruner.kept, pruner.pruned) == (20, 0)


def test_counters_add_up_to_frames_seen(ped2_frames) -> None:
    pruner = _pruner()
    moving = ped2_frames[1:16]
    clip = _static_clip(ped2_frames[0], 25) + moving + _static_clip(ped2_frames[15], 25)
    decisions = [pruner.keep(image, i / 10) for i, image in enumerate(clip)]
    assert pruner.kept == sum(decisions) and pruner.pruned == len(clip) - sum(decisions)
    assert decisions[0] and decisions[25:40] == [True] * 15
    # The second static stretch starts right after the last moving frame: pruned up to the
    # heartbeat 2 s (20 frames) later.
    assert decisions[40:] == [False] * 19 + [True] + [False] * 5
