"""The UCA loader on the three real annotation files, and its reports on malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.support.requirements import missing
from vad.grounding import uca

UCA = SHARED_DATA / "uca"


@pytest.fixture(scope="module")
def loaded() -> dict[str, list[uca.Video]]:
    if not uca.split_file(UCA, "Test").exists():
        missing(f"UCA annotations not found at {UCA}")
    return uca.load_splits(UCA)


def test_real_files_have_the_published_counts(loaded) -> None:
    assert {s: len(v) for s, v in loaded.items()} == {"Train": 1165, "Val": 379, "Test": 310}
    assert uca.counts(loaded) == (1854, 23542)
    first = next(v for v in loaded["Test"] if v.name == "Abuse037_x264")
    assert first.duration == 59.88 and first.queries[0].start == 1.2
    assert first.queries[0].sentence.startswith("A white car with double flashes")


def test_every_span_is_within_its_video(loaded) -> None:
    for video in (v for split in loaded.values() for v in split):
        for q in video.queries:
            assert 0 <= q.start <= q.end <= video.duration + uca.TOLERANCE


def test_malformed_entries_are_all_named() -> None:
    document = {
        "good": {"duration": 10, "timestamps": [[0, 5]], "sentences": ["a man walks"]},
        "reversed": {"duration": 10, "timestamps": [[6, 2]], "sentences": ["x"]},
        "late": {"duration": 10, "timestamps": [[1, 30]], "sentences": ["x"]},
        "blank": {"duration": 10, "timestamps": [[1, 2]], "sentences": ["  "]},
        "uneven": {"duration": 10, "timestamps": [[1, 2]], "sentences": []},
        "nodur": {"timestamps": [], "sentences": []},
        "list": [],
    }
    with pytest.raises(uca.UcaError) as error:
        uca.parse(document, "x.json")
    problems = "\n".join(error.value.problems)
    assert len(error.value.problems) == 6 and "good" not in problems
    for name in ("reversed", "late", "blank", "uneven", "nodur", "list"):
        assert f"x.json:{name}" in problems


def test_unreadable_file_and_duplicate_videos(tmp_path: Path) -> None:
    (tmp_path / "UCFCrime_Train.json").write_text("{not json")
    with pytest.raises(uca.UcaError, match="cannot read JSON"):
        uca.load_splits(tmp_path)
    entry = '{"v": {"duration": 5, "timestamps": [[0, 1]], "sentences": ["s"]}}'
    (tmp_path / "UCFCrime_Train.json").write_text(entry)
    (tmp_path / "UCFCrime_Test.json").write_text(entry)
    with pytest.raises(uca.UcaError, match="in both Train and Test"):
        uca.load_splits(tmp_path)
