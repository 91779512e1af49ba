"""Masks and zones (vad.masks): validation, rasterising, boxes, zones, and a burned-in clock in a
masked corner that no longer raises stage 1's score on real Ped2 footage."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from vad.encoders.detectors.base import Detection
from vad.masks import (
    MAX_POINTS,
    CameraRegions,
    PolygonError,
    RegionMask,
    Zone,
    ZoneLocator,
    mask_window,
    parse_polygon,
    rasterise,
    validate_polygon,
)
from vad.scoring.normality import NormalityConfig, fit_normality_model
from vad.scoring.normality.scorer import NormalityScorer
from vad.scoring.velocity import fit_velocity_model
from vad.types import Frame
from vad.video import iter_video_frames

SQUARE = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5))


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(0, 0), (1, 1)], "at least 3"),
        ([(0, 0), (1, 0), (1, 1.5)], "outside the view"),
        ([(0, 0), (1, 0), (math.nan, 1)], "not finite"),
        ([(0, 0), (1, 0), (math.inf, 1)], "not finite"),
        ([(0, 0), (0.5, 0.5), (1, 1)], "no area"),
        ([(0, 0), (1, 0), ("a", 1)], "pair of numbers"),
        ([(0, 0), (1, 0), (1,)], "[x, y] pair"),
        ([(0, 0), (1, 0), (10**400, 1)], "pair of numbers"),
        ([(0, 0), (1, 0), {"x": 1}], "[x, y] pair"),
        ([(i / 100, (i % 2) / 2) for i in range(MAX_POINTS + 1)], f"at most {MAX_POINTS}"),
        ("0,0 1,0 1,1", "list of"),
    ],
)
def test_bad_polygons_are_refused_with_the_reason(points, message) -> None:
    with pytest.raises(PolygonError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_polygon(points)


def test_cli_form_parses_and_says_which_point_is_wrong() -> None:
    assert parse_polygon("0,0 0.5,0  0.5,0.5 0,0.5") == SQUARE
    with pytest.raises(PolygonError, match="point 2 '0.5' is not 'x,y'"):
        parse_polygon("0,0 0.5 1,1")
    with pytest.raises(PolygonError, match="point 3"):
        parse_polygon("0,0 1,0 a,b")


def test_rasterise_covers_the_polygon_in_pixels() -> None:
    pixels = rasterise([SQUARE], 100, 80)
    assert pixels.shape == (80, 100)
    assert pixels[:39, :49].all() and not pixels[42:, :].any() and not pixels[:, 52:].any()
    assert abs(pixels.mean() - 0.25) < 0.02


def test_freeze_keeps_masked_pixels_of_the_first_frame_only() -> None:
    mask = RegionMask((SQUARE,))
    a = np.full((40, 40, 3), 10, np.uint8)
    b = np.full((40, 40, 3), 200, np.uint8)
    out = mask.freeze([a, None, b])
    assert out[0] is a and out[1] is None
    assert (out[2][:18, :18] == 10).all() and (out[2][25:, 25:] == 200).all()
    assert (b == 200).all()  # input untouched
    assert RegionMask().freeze([a, b])[1] is b
    streamed = list(mask.freeze_clip(iter([a, b])))
    assert streamed[0] is a and np.array_equal(streamed[1], out[2])


def test_boxes_mostly_inside_the_mask_are_covered() -> None:
    mask = RegionMask((SQUARE,))
    assert mask.covers_box((0.1, 0.1, 0.3, 0.3))
    assert mask.box_fraction((0.25, 0.0, 0.75, 0.5)) == pytest.approx(0.5, abs=0.02)
    assert not mask.covers_box((0.6, 0.6, 0.9, 0.9))
    assert not RegionMask().covers_box((0, 0, 1, 1))


def test_zones_touched_by_motion_and_by_an_object_standing_in_them() -> None:
    locator = ZoneLocator([Zone("left", ((SQUARE),)), Zone("right", (((0.5, 0), (1, 0), (1, 1)),))])
    still = np.zeros((120, 160, 3), np.uint8)
    moved = still.copy()
    moved[10:40, 10:40] = 255  # something appears in the left zone
    zones = locator.per_frame([still, moved, moved], previous=still)
    assert zones == [[], ["left"], []]
    # a person whose feet stand in the right zone, with no motion
    assert locator.per_frame([still], still, [[(0.7, 0.1, 0.8, 0.4)]]) == [["right"]]
    assert ZoneLocator([]).per_frame([still, None]) == [[], None]
    assert CameraRegions().zones == () and not CameraRegions().mask


# --- the burned-in clock ---------------------------------------------------------------------

CORNER = ((0.0, 0.0), (0.4, 0.0), (0.4, 0.22), (0.0, 0.22))


def _frames(path: Path, n: int) -> list[np.ndarray]:
    return list(itertools.islice(iter_video_frames(path), n))


def _burn_clock(images: list[np.ndarray]) -> list[np.ndarray]:
    """A white on black time stamp in the top-left corner that changes every frame."""
    out = []
    for i, image in enumerate(images):
        stamped = image.copy()
        cv2.rectangle(stamped, (0, 0), (130, 40), (0, 0, 0), -1)
        text = f"12:{i // 10:02d}:{i % 10}{(i * 7) % 10}"
        cv2.putText(stamped, text, (4, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        out.append(stamped)
    return out


def _score(scorer: NormalityScorer, images: list[np.ndarray], mask: RegionMask) -> np.ndarray:
    frames = [Frame("cam", i, i / 10, im, offset=i) for i, im in enumerate(images)]
    context, window = frames[:6], frames[6:]
    window, context = mask_window(window, context, mask)
    return scorer.score(window, context).scores


def test_a_burned_in_clock_in_a_masked_corner_no_longer_raises_the_score(ped2: Path) -> None:
    """Trained on clean Ped2 footage (the clock was masked when the camera learned), a clock
    ticking in the corner is new motion that raises stage 1's score; masking the corner brings
    the score back to that of the same footage without a clock."""
    cv2.setNumThreads(1)
    train = [_frames(ped2 / "train" / f"train_0{i}.mp4", 60) for i in (1, 2)]
    model = fit_normality_model(train, NormalityConfig(memory_per_cell=64, calibration_folds=2))
    scorer = NormalityScorer(model, fit_velocity_model(train))
    clean = _frames(ped2 / "train" / "train_03.mp4", 40)
    clocked = _burn_clock(clean)
    mask = RegionMask((CORNER,))

    baseline = _score(scorer, clean, RegionMask())
    unmasked = _score(scorer, clocked, RegionMask())
    masked = _score(scorer, clocked, mask)

    assert unmasked.max() >= 0.5 and unmasked.mean() > baseline.mean() + 0.2, (unmasked, baseline)
    assert masked.max() < 0.5, masked
    assert np.abs(masked - baseline).max() < 0.1, (masked, baseline)


def test_visible_detections_are_those_the_mask_does_not_cover() -> None:
    mask = RegionMask((SQUARE,))
    inside = Detection("person", 0.9, (0.1, 0.1, 0.3, 0.3))
    outside = Detection("person", 0.8, (0.6, 0.6, 0.9, 0.9))
    assert mask.visible([inside, outside]) == [outside]
    assert RegionMask().visible([inside, outside]) == [inside, outside]
    assert mask.hide_from(None) is None
    assert RegionMask().hide_from("any detector") == "any detector"  # nothing masked: itself
