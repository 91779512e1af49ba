"""CameraIngestor on a real clip: a looping file camera publishes the end-of-stream marker at the
end of every pass, so each pass reaches the pipeline as a stream of its own."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from frames.record import FrameMeta, is_end_of_stream
from ingest.camera import CameraIngestor, CameraSpec
from ingest.publisher import CameraOutbox, DeliveryCounters, OutgoingFrame
from ingest.settings import IngestConfig
from ingest.sources import VideoSource
from tests.support.requirements import missing

PED2 = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ucsd_ped2"
CLIP_FRAMES = 8


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """The first frames of Ped2 test_04 (the demo clip) as a clip of their own."""
    source = PED2 / "test" / "test_04.mp4"
    if not source.is_file():
        missing(f"UCSD Ped2 footage not found at {PED2}")
    target = tmp_path_factory.mktemp("clip") / "test_04_head.mp4"
    with VideoSource(str(source)) as video:
        images = [video.read().image for _ in range(CLIP_FRAMES)]
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for image in images:
        writer.write(image)
    writer.release()
    return target


class _Acked:
    """A kafka-python style future the broker acknowledged at once."""

    def add_callback(self, fn):
        fn(None)
        return self

    def add_errback(self, fn):
        return self


class RecordingPublisher:
    """Stands in for FramePublisher: keeps every record in the order the broker got it."""

    def __init__(self, config: IngestConfig) -> None:
        self.config = config
        self.records: list[OutgoingFrame] = []
        self._lock = threading.Lock()

    def outbox(self, camera_id: int, counters: DeliveryCounters, lossless: bool = False):
        return CameraOutbox(self, camera_id, counters, lossless)  # type: ignore[arg-type]

    def fit(self, image: np.ndarray) -> np.ndarray:
        return image

    def send(self, camera_id: int, item: OutgoingFrame) -> _Acked:
        with self._lock:
            self.records.append(item)
        return _Acked()

    def send_marker(self, camera_id: int, item: OutgoingFrame) -> None:
        self.send(camera_id, item)

    def forget(self, box: CameraOutbox) -> None:
        pass

    def markers(self) -> int:
        with self._lock:
            return sum(1 for r in self.records if is_end_of_stream(r.headers))


def test_looping_file_publishes_an_end_marker_between_passes(short_clip: Path) -> None:
    config = IngestConfig(prune_changed_fraction=0)  # keep every frame: passes are exact
    publisher = RecordingPublisher(config)
    spec = CameraSpec(id=3, name="loop", url=str(short_clip), fps=10, loop=True)
    ingestor = CameraIngestor(spec, config, publisher, pace=False)  # type: ignore[arg-type]
    ingestor.start()
    deadline = time.monotonic() + 60  # generous: a busy machine only makes it wait longer
    while publisher.markers() < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    ingestor.stop()
    assert ingestor.status == "online"  # looping on: the pass ends are not the end of the file

    passes: list[list[FrameMeta]] = [[]]
    ends: list[FrameMeta] = []
    for record in publisher.records:
        meta = FrameMeta.from_headers(record.headers)
        if is_end_of_stream(record.headers):
            ends.append(meta)
            passes.append([])
        else:
            passes[-1].append(meta)
    assert len(ends) >= 3
    for number, frames in enumerate(passes[: len(ends)]):
        assert [f.index for f in frames] == list(
            range(number * CLIP_FRAMES, (number + 1) * CLIP_FRAMES)
        )
        # the marker closes the pass at its last frame's time, before the next pass begins
        assert ends[number].captured_at == frames[-1].captured_at
        assert all(f.captured_at > ends[number].captured_at for f in passes[number + 1])


def test_a_25_fps_file_is_published_every_third_frame_in_even_steps(tmp_path: Path) -> None:
    """Ingest keeps what `vad camera learn` and `vad eval` keep (`AnalysisSampler`): a camera set
    to 10 fps keeps every 3rd frame of 25 fps, 0.12 s apart."""
    path = tmp_path / "cam25.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
    for i in range(30):
        writer.write(np.full((24, 32, 3), 8 * i, np.uint8))
    writer.release()
    config = IngestConfig(prune_changed_fraction=0)
    publisher = RecordingPublisher(config)
    spec = CameraSpec(id=4, name="fast", url=str(path), fps=10, loop=False)
    ingestor = CameraIngestor(spec, config, publisher, pace=False)  # type: ignore[arg-type]
    report = ingestor.take_report()
    assert (report.source_fps, report.analysed_fps) == (None, None)  # not connected: nothing yet
    ingestor.start()
    assert ingestor.finished.wait(60)
    report = ingestor.take_report()  # stored beside the setting for operators
    assert (report.source_fps, report.analysed_fps) == (25, 25 / 3)  # every 3rd frame
    frames = [
        FrameMeta.from_headers(r.headers)
        for r in publisher.records
        if not is_end_of_stream(r.headers)
    ]
    assert [f.index for f in frames] == list(range(0, 30, 3))
    np.testing.assert_allclose(np.diff([f.captured_at for f in frames]), 0.12, atol=1e-3)
