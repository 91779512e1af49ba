import math

import pytest

from vad.stage2.answers import interpolate, parse_score

ALLOWED = [round(0.1 * i, 1) for i in range(11)]


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("0.7", 0.7),
        (" 0.3\n", 0.3),
        ("[0.8]", 0.8),
        ("[ 1 ]", 1.0),
        ("0", 0.0),
        ("1.0", 1.0),
        (".5", 0.5),
        ("0.2.", 0.2),
        ('{"score": 0.9}', 0.9),
        ('{"score": "0.4"}', 0.4),
        ("`0.6`", 0.6),
    ],
)
def test_good_answers(answer, value):
    parsed = parse_score(answer, ALLOWED)
    assert parsed.ok and parsed.error is None
    assert math.isclose(parsed.value, value)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("suspicious", "not a single number"),
        ("The score is 0.7", "not a single number"),
        ("0.2 or 0.8", "not a single number"),
        ("[0.1, 0.2]", "not a single number"),
        ('{"score": 0.5, "why": "x"}', "not a single number"),
        ('{"score": true}', "not a single number"),
        ("nan", "not a single number"),
        ("1.5", "out of range"),
        ("-0.2", "out of range"),
        ("7", "out of range"),
        ('{"score": 2}', "out of range"),
        ("0.75", "not an allowed value"),
    ],
)
def test_bad_answers_are_marked_never_guessed(answer, why):
    parsed = parse_score(answer, ALLOWED)
    assert parsed.value is None
    assert parsed.error.startswith(why)


def test_interpolation_fills_gaps_from_neighbours_only():
    times = [0, 1, 2, 3, 4, 6]
    values = [None, 0.2, None, 0.6, None, None]
    filled = interpolate(times, values)
    assert filled[0] == 0.2  # before the first parsed: the nearest one
    assert filled[1] == 0.2 and filled[3] == 0.6  # parsed values untouched
    assert math.isclose(filled[2], 0.4)  # linear in time between 0.2 and 0.6
    assert filled[4] == 0.6 and filled[5] == 0.6


def test_interpolation_uses_time_not_position():
    filled = interpolate([0, 1, 10], [0.0, None, 1.0])
    assert math.isclose(filled[1], 0.1)


def test_nothing_parsed_nothing_invented():
    assert interpolate([0, 1, 2], [None, None, None]) == [None, None, None]
    assert interpolate([], []) == []
