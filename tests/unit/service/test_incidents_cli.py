"""`vad incidents --since`: relative durations and ISO times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.commands.incidents import parse_since, parse_zone


def _ago(text: str) -> tuple[timedelta, timedelta]:
    """Bounds on how far back `text` points: parse_since reads the clock between ours."""
    before = datetime.now(UTC)
    parsed = parse_since(text)
    after = datetime.now(UTC)
    assert parsed.tzinfo is not None
    return before - parsed, after - parsed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("90s", timedelta(seconds=90)),
        ("1.5h", timedelta(minutes=90)),
        ("0s", timedelta(0)),
        ("  15m\n", timedelta(minutes=15)),
        ("365d", timedelta(days=365)),
    ],
)
def test_relative_durations(text: str, expected: timedelta) -> None:
    low, high = _ago(text)
    assert low <= expected <= high


def test_result_is_in_the_past_and_utc() -> None:
    parsed = parse_since("1h")
    assert parsed.utcoffset() == timedelta(0)
    assert parsed < datetime.now(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:30:00+00:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01T12:30:00Z", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01 12:30:00", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T12:30:00.250000", datetime(2024, 5, 1, 12, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_iso_times_naive_ones_meaning_utc(text: str, expected: datetime) -> None:
    parsed = parse_since(text)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


def test_iso_time_with_an_offset_keeps_its_zone_and_instant() -> None:
    parsed = parse_since("2024-05-01T14:30:00+02:00")
    assert parsed.utcoffset() == timedelta(hours=2)
    assert parsed == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parsed.tzinfo == timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "1 h", "5x", "h", "-5m", "1e3s", "30M", "1h30m", "2024-13-01", "12:3x"],
)
def test_bad_text_is_a_value_error_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match=r"--since .*use e\.g\. 30m, 1h, 2d or an ISO time") as e:
        parse_since(text)
    assert repr(text) in str(e.value)
    assert e.value.__cause__ is None


@pytest.mark.parametrize("text", ["1000000d", "99999999999999999999s"])
def test_absurdly_long_durations_are_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(text)


@pytest.mark.parametrize(
    ("text", "expected"), [(None, None), ("road", "road"), (" yard\n", "yard")]
)
def test_zone_filter_reads_names_as_they_are_stored(text, expected) -> None:
    assert parse_zone(text) == expected


@pytest.mark.parametrize(("text", "message"), [("  ", "needs a name"), ("a\tb", "printable")])
def test_zone_filter_that_cannot_be_a_zone_is_an_error(text, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_zone(text)
