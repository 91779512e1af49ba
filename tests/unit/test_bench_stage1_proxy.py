"""The training-only proxy of the whole stage 1 (bench/stage1_proxy.py) and its fusion rules
(bench/stage1_fusion.py): pseudo-anomalies only in the middle half, labels to match, and the
rules' calibrated meaning."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from bench.detector import iou
from bench.stage1_fusion import (
    L_REF,
    fired_terms,
    fisher,
    normal_alarms,
    round2_choice,
    round2_failures,
    rule_max,
    squash,
    surprise,
    window_mean,
)
from bench.stage1_proxy import (
    KINDS,
    RUSH_PACE,
    STRAY_SPEED,
    StrayPlan,
    busy_row,
    busyness,
    clear_person,
    condition_paths,
    feather,
    held_out_sets,
    learning_clip,
    parse_conditions,
    parse_kinds,
    person_crop,
    person_rows,
    pseudo,
    quiet_row,
    seen_share,
    segment,
    shake_clip,
    shaken_pseudo,
    stray_boxes,
    stray_plan,
    stray_track,
)
from vad.encoders.detectors.base import Detection
from vad.eval.conditions import shaken
from vad.scoring.look_ahead import look_ahead, media_times


def _clip(n: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(n)]


def test_pseudo_anomalies_fill_the_middle_half_only():
    clip = _clip()
    start, stop = segment(len(clip))
    for kind in KINDS:
        frames, labels = pseudo(clip, 1, kind)
        assert len(frames) == len(labels) and labels.any() and not labels.all()
        assert not labels[:start].any()
        if kind != "speed":
            assert np.flatnonzero(labels).tolist() == list(range(start, stop))
            assert all(np.array_equal(frames[i], clip[i]) for i in range(start))
            assert not np.array_equal(frames[start], clip[start])
    frames, labels = pseudo(clip, 1, "speed")
    dropped = (stop - start) // 2
    assert len(frames) == len(clip) - dropped and labels.sum() == stop - start - dropped


def test_shake_moves_the_pasted_box_with_the_scene_and_keeps_the_labels():
    """--shake: the pseudo-anomaly is pasted first, then the clip is shaken as the suite shakes
    it (seeded by the clip's name); 0 leaves the clip as it is."""
    clip = _clip()
    frames, labels = pseudo(clip, 1, "cart")
    moved, moved_labels = shaken_pseudo(clip, 1, "cart", 0.05, "train_01")
    assert np.array_equal(labels, moved_labels)
    expected = shaken(frames, 0.05, "train_01")
    assert all(np.array_equal(a, b) for a, b in zip(moved, expected, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(moved, frames, strict=True))
    assert shake_clip(clip, 0.0, "train_01") is clip


def test_surprise_round_trip_and_fisher():
    c = np.array([0.0, 0.3, 0.5, 0.9])
    np.testing.assert_allclose(squash(surprise(c)), c, atol=1e-12)
    assert np.isclose(surprise(np.array([0.5]))[0], L_REF)
    s = np.array([[2.0], [3.0]])
    np.testing.assert_allclose(fisher(s), 5.0 - np.log1p(5.0))  # Gamma(2, 1) tail
    np.testing.assert_allclose(fisher(s[:1]), 2.0)  # one term: unchanged


def test_max_rule_is_the_products_max():
    t = {"pixel": np.array([0.2, 0.7]), "velocity": np.array([0.6, 0.1])}
    np.testing.assert_allclose(rule_max(["pixel", "velocity"])(t), [0.6, 0.7])


def test_normal_alarms_count_all_normal_frames_and_those_before_the_segment():
    labels = np.array([0, 0, 0, 0, 1, 1, 0, 0], float)
    pixel = np.array([0.6, 0.1, 0.1, 0.1, 0.9, 0.9, 0.7, 0.7])
    data = {
        "fast": {
            "a": {"labels": labels, "pixel": pixel},
            "b": {"labels": labels, "pixel": 0 * pixel},
        }
    }
    everything, before = normal_alarms(data, rule_max(["pixel"]))
    assert everything == 3 / 12 and before == 1 / 8
    assert normal_alarms(data, rule_max(["pixel"]), {"a"}) == (3 / 6, 1 / 4)


def test_the_adopted_look_ahead_rule_is_the_products_function():
    """bench's fused P0 L2 box at 10 fps is vad.scoring.look_ahead at 0.2 s."""
    x = np.random.default_rng(2).random(50)
    x[[3, 17]] = np.nan
    np.testing.assert_allclose(
        window_mean(x, 0, 2, "box"),
        look_ahead(x, media_times(50, 10.0), 0.2),
        equal_nan=True,
    )


def test_look_ahead_round_2_rule():
    """Each condition of round 2's rule, and its pick: the largest smaller gain, the shorter L
    within 0.001, L = 2 when none passes."""
    base = {"all": (0.950, 0.960, 0.090), "fast": (0.98, 0, 0), "cart": (0.90, 0, 0)}
    good = {"all": (0.953, 0.963, 0.0909), "fast": (0.99, 0, 0), "cart": (0.896, 0, 0)}
    assert round2_failures(base, good) == []
    bad = {"all": (0.9515, 0.963, 0.0925), "fast": (0.99, 0, 0), "cart": (0.894, 0, 0)}
    assert round2_failures(base, bad) == [
        "pooled gain < 0.002",
        "normal >= 0.5 up > 0.1 point",
        "cart pooled down > 0.005",
    ]
    gains = {3: [0.004, 0.003], 4: [0.006, 0.0045], 5: [0.009, 0.005], 6: [0.01, 0.002]}
    assert round2_choice(gains, {3: [], 4: [], 5: [], 6: []}) == 4
    assert round2_choice(gains, {3: [], 4: ["ped1"], 5: [], 6: []}) == 5
    assert round2_choice(gains, {n: ["ped2"] for n in gains}) == 2


def test_conditions_are_parsed_and_get_one_file_each_beside_out():
    assert parse_conditions("dim, jpeg,dim") == ["dim", "jpeg"]
    with pytest.raises(argparse.ArgumentTypeError, match="fog"):
        parse_conditions("dim,fog")
    out = Path("/tmp/x/proxy.npz")
    assert condition_paths(out, []) == {"clean": out}
    assert condition_paths(out, ["dim", "noise"]) == {
        "clean": Path("/tmp/x/proxy-clean.npz"),
        "dim": Path("/tmp/x/proxy-dim.npz"),
        "noise": Path("/tmp/x/proxy-noise.npz"),
    }


def test_every_second_fitting_clip_learns_in_the_condition():
    clip = _clip()
    assert learning_clip(clip, 0, "noise", 0.0, "a") is clip
    noisy = learning_clip(clip, 1, "noise", 0.0, "a")
    assert len(noisy) == len(clip) and not np.array_equal(noisy[5], clip[5])
    assert learning_clip(clip, 1, "clean", 0.0, "a") is clip


def test_fired_terms_are_counted_on_normal_alarms_only():
    labels = np.array([0, 0, 0, 1], float)
    data = {
        "fast": {
            "a": {
                "labels": labels,
                "pixel": np.array([0.7, 0.6, 0.1, 0.9]),
                "velocity": np.array([0.2, 0.8, 0.1, 0.1]),
            }
        }
    }
    fired = fired_terms(data, ["pixel", "velocity", "objects"])
    assert fired == {"pixel": (1.0, 0.5), "velocity": (0.5, 0.5)}


def test_compare_fuses_a_term_only_the_variant_has(tmp_path, capsys):
    """The appearance term of a variant run joins its fused stage 1 and gets its own row; the
    baseline without it is fused as before."""
    from bench.stage1_fusion import compare

    labels = np.r_[np.zeros(10), np.ones(10), np.zeros(10)]
    calm = np.full(30, 0.1)
    base = {f"c|fast|{t}": calm for t in ("pixel", "velocity", "objects")}
    base["c|fast|labels"] = labels
    variant = {**base, "c|fast|appearance": np.where(labels == 1, 0.9, 0.6)}
    np.savez(tmp_path / "base.npz", **base)
    np.savez(tmp_path / "variant.npz", **variant)
    compare(str(tmp_path / "base.npz"), str(tmp_path / "variant.npz"), None)
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "nan/nan -> 1.000/1.000" in lines["appearance"]
    assert "0.500/0.500 -> 1.000/1.000" in lines["max(all):"]
    assert "0.00 -> 100.00 %" in lines["max(all):"]


def test_busiest_quarter_is_held_out_in_one_fold_and_folds_cover_every_clip():
    still = [np.zeros((8, 8, 3), np.uint8)] * 4
    flicker = [np.full((8, 8, 3), 255 * (i % 2), np.uint8) for i in range(4)]
    clips = {"a": still, "b": flicker, "c": still, "d": still}
    names = sorted(clips)
    assert busyness(flicker) == 0.0  # frames 2 apart are equal
    clips["b"] = [np.full((8, 8, 3), 60 * i, np.uint8) for i in range(4)]
    assert busyness(clips["b"]) == 1.0
    assert held_out_sets(names, clips, 2, busiest=True) == [["b"]]
    assert held_out_sets(names, clips, 2, busiest=False) == [["a", "c"], ["b", "d"]]


def test_compare_row_as_scored_is_the_products_look_ahead_of_the_max():
    """`--compare`'s last row is what `Stage1.score` returns: the max, then the look-ahead."""
    from bench.stage1_fusion import AS_SCORED, row_rule
    from service.settings import Settings

    settings = Settings()
    rng = np.random.default_rng(0)
    t = {n: rng.random(40) for n in ("pixel", "velocity", "objects")}
    t["labels"] = np.zeros(40)
    fused = np.max([t["pixel"], t["velocity"], t["objects"]], axis=0)
    expected = look_ahead(
        fused, media_times(40, settings.ingest.default_fps), settings.scoring.look_ahead_seconds
    )
    terms = ["pixel", "velocity", "objects"]
    assert np.allclose(row_rule(AS_SCORED, terms)(t), expected)
    assert np.allclose(row_rule("max(all): stage 1", terms)(t), fused)


def _person(box, confidence=0.9, name="person") -> Detection:
    return Detection(name, confidence, box)


def test_kinds_default_to_the_old_four_and_stray_is_opt_in():
    assert KINDS == ["fast", "cart", "far", "speed"]
    assert parse_kinds("stray") == ["stray"]
    assert parse_kinds("speed,rush") == ["speed", "rush"]
    assert parse_kinds(" cart, stray,cart ") == ["cart", "stray"]
    for bad in ["walker", ""]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse_kinds(bad)


def test_person_rows_keep_confident_people_only():
    clips = [
        [[_person((0, 0.2, 0.1, 0.4)), _person((0, 0.6, 0.1, 0.8), 0.3)]],
        [[_person((0, 0.5, 0.1, 0.7), name="car")], [_person((0, 0.8, 0.1, 1.0))]],
    ]
    assert np.allclose(person_rows(clips, 0.4), [0.3, 0.9])


def test_quiet_row_is_the_heart_of_the_emptiest_band_inside_the_trim():
    """People at rows 0.4-0.7: the longest empty stretch is the top (0.05-0.4), not the bottom
    (0.7-0.95), and the band's centre, not its rim, is chosen; the trimmed edges never count."""
    rows = np.linspace(0.4, 0.7, 200)
    row = quiet_row(rows, 0.1)
    assert 0.15 < row < 0.3
    assert not np.any(np.abs(rows - row) <= 0.05)
    crowded_top = np.concatenate([np.linspace(0.0, 0.6, 300), [0.97, 0.98]])
    assert quiet_row(crowded_top, 0.1) > 0.65  # people at the very bottom (trimmed) ignored
    assert quiet_row(rows, 0.1) == quiet_row(rows, 0.1)  # deterministic
    assert quiet_row(np.array([]), 0.1) == pytest.approx(0.5, abs=0.01)


def test_busy_row_is_where_most_people_are():
    rows = np.concatenate([np.linspace(0.4, 0.7, 100), np.full(50, 0.55)])
    assert busy_row(rows, 0.1) == pytest.approx(0.55, abs=0.02)
    assert busy_row(rows, 0.1) == busy_row(rows, 0.1)  # deterministic
    assert busy_row(np.array([0.99, 0.98, 0.5]), 0.1) == pytest.approx(0.5, abs=0.06)  # trimmed


def test_rush_is_the_same_person_faster_where_people_are():
    frames = [np.full((48, 64, 3), 9, np.uint8) for _ in range(4)]
    found = (1, (0.4, 0.3, 0.5, 0.4))
    rows = np.concatenate([np.full(30, 0.2), np.full(90, 0.7)])
    stray = stray_plan(frames, found, rows, False, 0.5, "stray")
    rush = stray_plan(frames, found, rows, False, 0.5, "rush")
    assert np.array_equal(stray.patch, rush.patch) and stray.inner == rush.inner
    assert rush.speed == pytest.approx(RUSH_PACE * stray.speed) and stray.speed == STRAY_SPEED
    assert rush.row == pytest.approx(0.7, abs=0.02) and not 0.6 < stray.row < 0.8
    assert stray_plan(frames, None, rows, False, 0.5, "rush") is None
    clip = [np.zeros((48, 64, 3), np.uint8) for _ in range(40)]
    _, labels = pseudo(clip, 2, "rush", rush)
    start, stop = segment(len(clip))
    assert np.flatnonzero(labels).tolist() == list(range(start, stop))
    with pytest.raises(ValueError, match="rush kind needs"):
        pseudo(clip, 2, "rush")


def test_clear_person_is_the_most_confident_whole_one():
    frames = [
        [_person((0.0, 0.3, 0.1, 0.6), 0.99), _person((0.3, 0.3, 0.4, 0.6), 0.6)],
        [_person((0.5, 0.3, 0.6, 0.6), 0.7), _person((0.7, 0.3, 0.8, 0.6), 0.9, "car")],
        [_person((0.5, 0.3, 0.6, 0.6), 0.45)],
    ]
    assert clear_person(frames) == (1, (0.5, 0.3, 0.6, 0.6))
    assert clear_person([[_person((0.2, 0.1, 0.3, 0.99), 0.9)]]) is None  # cut by the bottom
    assert clear_person([[]]) is None


def test_person_crop_keeps_a_margin_and_knows_where_the_person_is():
    frame = np.arange(100 * 200 * 3, dtype=np.uint32).reshape(100, 200, 3).astype(np.uint8)
    patch, inner = person_crop(frame, (0.5, 0.4, 0.6, 0.8), 0.5)  # 20 x 40 px person
    assert patch.shape[:2] == (80, 40) and inner == (10, 20, 30, 60)
    assert np.array_equal(patch, frame[20:100, 90:130])
    edge, _ = person_crop(frame, (0.5, 0.7, 0.6, 0.9), 0.5)  # clipped at the bottom
    assert edge.shape[0] == 100 - 60


def _plan(soft: bool = False) -> StrayPlan:
    patch = np.full((12, 6, 3), 250, np.uint8)
    return StrayPlan(patch, (1, 2, 5, 10), 0.3, soft)


def test_stray_walks_along_its_row_at_walking_pace_in_the_middle_half():
    n, size = 40, (48, 64)
    track = stray_track(n, size, (12, 6), 0.3, seed=3)
    start, stop = segment(n)
    assert [i for i, at in enumerate(track) if at is not None] == list(range(start, stop))
    ys = {at[1] for at in track if at is not None}
    assert ys == {round(0.3 * 48 - 6)}
    xs = np.array([at[0] for at in track if at is not None], float)
    steps = np.abs(np.diff(xs))
    assert np.median(steps) == pytest.approx(STRAY_SPEED * 64, abs=1)
    assert track == stray_track(n, size, (12, 6), 0.3, seed=3)
    assert track != stray_track(n, size, (12, 6), 0.3, seed=4)
    low = stray_track(n, size, (12, 6), 0.99, seed=3)
    assert {at[1] for at in low if at is not None} == {48 - 12}  # kept inside the frame
    fast = stray_track(n, size, (12, 6), 0.3, 3, 3 * STRAY_SPEED)
    unwrapped = [abs(b[0] - a[0]) for a, b in zip(fast, fast[1:], strict=False) if a and b]
    assert np.median(unwrapped) == pytest.approx(3 * STRAY_SPEED * 64, abs=1)


def test_stray_paste_labels_its_frames_and_boxes_follow_the_person():
    clip = [np.zeros((48, 64, 3), np.uint8) for _ in range(40)]
    plan = _plan()
    frames, labels = pseudo(clip, 2, "stray", plan)
    start, stop = segment(len(clip))
    assert np.flatnonzero(labels).tolist() == list(range(start, stop))
    boxes = stray_boxes(len(clip), (48, 64), plan, 2)
    assert [b is not None for b in boxes] == labels.astype(bool).tolist()
    track = stray_track(40, (48, 64), (12, 6), 0.3, 2)
    for frame, box, at in zip(frames, boxes, track, strict=True):
        if at is None:
            assert not frame.any()
            continue
        x, y = at
        assert frame[y : y + 12, x : x + 6].min() == 250 and frame.sum() == 250 * 12 * 6 * 3
        assert box == pytest.approx(((x + 1) / 64, (y + 2) / 48, (x + 5) / 64, (y + 10) / 48))
    with pytest.raises(ValueError, match="StrayPlan"):
        pseudo(clip, 2, "stray")


def test_soft_paste_keeps_the_person_and_fades_the_margin():
    alpha = feather((12, 6), (1, 2, 5, 10), 1.0)
    assert alpha.shape == (12, 6, 1)
    assert np.all(alpha[2:10, 1:5] > 0.4) and alpha[0, 0, 0] < alpha[6, 3, 0] == 1.0
    clip = [np.zeros((48, 64, 3), np.uint8) for _ in range(40)]
    hard, _ = pseudo(clip, 2, "stray", _plan())
    soft, labels = pseudo(clip, 2, "stray", _plan(soft=True))
    i = int(np.flatnonzero(labels)[0])
    assert 0 < soft[i].sum() < hard[i].sum()


def test_seen_share_counts_key_frames_with_an_overlapping_confident_person():
    box = (0.1, 0.1, 0.3, 0.5)
    boxes = [None, box, box, box, box]
    detections = [
        [],
        [_person((0.12, 0.1, 0.32, 0.5), 0.5)],  # seen
        [_person((0.12, 0.1, 0.32, 0.5), 0.5)],  # not a key frame
        [_person((0.12, 0.1, 0.32, 0.5), 0.3)],  # too weak
        [_person((0.6, 0.1, 0.8, 0.5), 0.9), _person(box, 0.9, "car")],  # elsewhere, not a person
    ]
    assert seen_share(boxes, detections, [0, 1, 1, 3, 4], 0.4) == (1, 3)
    assert iou(box, box) == pytest.approx(1.0) and iou(box, (0.5, 0.5, 0.6, 0.6)) == 0.0
