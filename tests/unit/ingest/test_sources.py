"""Fast tests of ingest.sources: URL validation, backoff, and reading local Ped2 files."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np
import pytest

from ingest.sources import (
    SourceError,
    SourceFrame,
    VideoSource,
    _call_with_deadline,
    backoff_delays,
    redact_url,
    validate_source_url,
)
from tests.support.requirements import missing

REPO_ROOT = Path(__file__).resolve().parents[3]
PED2 = REPO_ROOT.parent / "shared" / "data" / "ucsd_ped2"


@pytest.fixture(scope="module")
def video() -> Path:
    path = PED2 / "test" / "test_01.mp4"
    if not path.is_file():
        missing(f"UCSD Ped2 footage not found at {PED2}")
    return path


@pytest.fixture(scope="module")
def all_frames(video: Path) -> list[SourceFrame]:
    with VideoSource(str(video)) as source:
        return list(iter(source.read, None))


# --- validate_source_url -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://10.0.0.5:554/stream1", "rtsp://10.0.0.5:554/stream1"),
        ("RTSP://cam.local/live", "rtsp://cam.local/live"),
        ("rtsps://user:pw@cam.local/live", "rtsps://user:pw@cam.local/live"),
        ("  http://127.0.0.1:8080/video.mjpg ", "http://127.0.0.1:8080/video.mjpg"),
        ("https://cam.example.com/mjpeg?res=hd", "https://cam.example.com/mjpeg?res=hd"),
    ],
)
def test_validate_accepts_network_urls(url: str, expected: str) -> None:
    assert validate_source_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://cam.local/video.mp4", "unsupported source scheme 'ftp'"),
        ("udp://239.0.0.1:1234", "unsupported source scheme 'udp'"),
        ("rtsp:///stream", "missing host"),
        ("http://", "missing host"),
        ("rtsp://cam.local:99999/x", "invalid port"),
        ("", "empty source URL"),
        ("/nonexistent/video.mp4", "no such video file"),
        ("file:///nonexistent/video.mp4", "no such video file"),
    ],
)
def test_validate_rejects(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_source_url(url)


def test_validate_accepts_local_files(video: Path) -> None:
    assert validate_source_url(str(video)) == str(video)
    assert validate_source_url(video.as_uri()) == str(video)


def test_validate_rejects_non_video_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 100)
    with pytest.raises(ValueError, match=f"not a video file: {text}"):
        validate_source_url(str(text))


def test_redact_hides_credentials() -> None:
    assert redact_url("rtsp://admin:secret@cam/x") == "rtsp://***@cam/x"
    assert redact_url("rtsp://cam/x") == "rtsp://cam/x"


# --- backoff -------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = list(itertools.islice(backoff_delays(), 10))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    assert list(itertools.islice(backoff_delays(1.0, 3.0), 4)) == [1.0, 2.0, 3.0, 3.0]


def test_backoff_rejects_nonpositive() -> None:
    with pytest.raises(ValueError):
        next(backoff_delays(0, 1))


# --- local files ---------------------------------------------------------------------------------


def test_reads_a_whole_file(video: Path, all_frames: list[SourceFrame]) -> None:
    assert 120 <= len(all_frames) <= 200
    assert [f.index for f in all_frames] == list(range(len(all_frames)))
    assert all_frames[0].pts == 0.0
    assert all_frames[10].pts == pytest.approx(1.0)  # Ped2 is 10 fps
    first = all_frames[0].image
    assert first.dtype == np.uint8 and first.shape == (240, 360, 3)
    with VideoSource(str(video)) as source:
        assert source.is_file and source.fps == pytest.approx(10.0)


def test_end_of_file_stays_none(video: Path, all_frames: list[SourceFrame]) -> None:
    with VideoSource(str(video), start_index=len(all_frames) - 1) as source:
        assert source.read() is not None
        assert source.read() is None
        assert source.read() is None


def test_start_index_seeks_exactly(video: Path, all_frames: list[SourceFrame]) -> None:
    with VideoSource(str(video), start_index=50) as source:
        frame = source.read()
    assert frame.index == 50
    assert frame.pts == pytest.approx(all_frames[50].pts)
    assert np.array_equal(frame.image, all_frames[50].image)


def test_loop_keeps_index_and_pts_growing(video: Path, all_frames: list[SourceFrame]) -> None:
    count = len(all_frames)
    with VideoSource(str(video), loop=True, start_index=count - 5) as source:
        frames = [source.read() for _ in range(count + 10)]
    assert [f.index for f in frames] == list(range(count - 5, 2 * count + 5))
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in zip(pts, pts[1:], strict=False))
    wrapped = frames[5]  # frame 0 of the second pass
    assert np.array_equal(wrapped.image, all_frames[0].image)
    assert wrapped.pts == pytest.approx(count / 10.0)
    assert pts[1] - pts[0] == pytest.approx(0.1)


def test_loop_marks_the_first_frame_of_each_new_pass(
    video: Path, all_frames: list[SourceFrame]
) -> None:
    count = len(all_frames)
    with VideoSource(str(video), loop=True, start_index=count - 3) as source:
        frames = [source.read() for _ in range(count + 6)]
    assert [f.index for f in frames if f.starts_pass] == [count, 2 * count]
    with VideoSource(str(video)) as source:
        assert not any(f.starts_pass for f in iter(source.read, None))


def test_loop_resume_beyond_first_pass(video: Path, all_frames: list[SourceFrame]) -> None:
    count = len(all_frames)
    with VideoSource(str(video), loop=True, start_index=2 * count + 7) as source:
        frame = source.read()
    assert frame.index == 2 * count + 7
    assert frame.pts == pytest.approx((2 * count + 7) / 10.0)
    assert np.array_equal(frame.image, all_frames[7].image)


def test_non_video_file_gives_clear_error(tmp_path: Path) -> None:
    text = tmp_path / "camera.txt"
    text.write_text("hello")
    with pytest.raises(SourceError) as info:
        VideoSource(str(text)).open()
    assert info.value.reason == f"not a video file: {text}"
    assert info.value.retryable is False


def test_missing_file_and_bad_scheme_are_not_retryable(tmp_path: Path) -> None:
    for url in (str(tmp_path / "gone.mp4"), "ftp://cam/x"):
        with pytest.raises(SourceError) as info:
            VideoSource(url).open()
        assert info.value.retryable is False


def test_read_before_open_raises(video: Path) -> None:
    with pytest.raises(SourceError, match="not open"):
        VideoSource(str(video)).read()


# --- watchdog ------------------------------------------------------------------------------------


def test_deadline_gives_up_and_cleans_up_late_results() -> None:
    late: list[object] = []
    released = threading.Event()

    def on_late(result: object) -> None:
        late.append(result)
        released.set()

    unblock = threading.Event()

    def hung_capture() -> str:  # returns only when the test lets it: a capture stuck for good
        unblock.wait(60)
        return "capture"

    with pytest.raises(TimeoutError):
        _call_with_deadline(hung_capture, 0.1, on_late)
    assert late == []  # it gave up while the call was still stuck (no wall-clock race)
    unblock.set()
    assert released.wait(30) and late == ["capture"]
    assert _call_with_deadline(lambda: 42, 1.0, on_late) == 42
    with pytest.raises(ZeroDivisionError):
        _call_with_deadline(lambda: 1 / 0, 1.0, on_late)
