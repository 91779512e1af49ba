"""Training-free grounding mechanics on real Ped2 test footage with a tiny CLIP (random weights:
what the curves mean is not tested here, only proposals, NMS, gaps and times)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vad.grounding import ground
from vad.grounding.config import GroundingConfig
from vad.grounding.proposals import temporal_iou

pytestmark = pytest.mark.integration

FPS = 10.0
EPS = 1e-3  # epoch-second floats carry ~1e-6 s of rounding
CONFIG = GroundingConfig(sigma_seconds=0.5, max_gap_seconds=2.0, scales_seconds=(1, 2, 4, 8))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from tests.support.tiny_models import need_export_extra, tiny_clip_dir
    from vad.encoders.clip import ClipEncoder

    need_export_extra()
    return ClipEncoder.load(tiny_clip_dir(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def footage(ped2: Path, clip):
    """test_04 sampled at 5 fps, with 8-12 s dropped (camera offline) and a few frames pruned;
    timestamps are epoch seconds, as stored frames have."""
    capture = cv2.VideoCapture(str(ped2 / "test" / "test_04.mp4"))
    frames, times = [], []
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        t = index / FPS
        if index % 2 == 0 and not 8.0 <= t < 12.0 and index not in (20, 22, 24):
            frames.append(frame)
            times.append(1.767e9 + t)
        index += 1
    capture.release()
    assert index == 180
    return clip.embed_images(frames), np.array(times)


def test_moments_are_ranked_disjoint_and_inside_the_footage(clip, footage):
    embeddings, times = footage
    query = clip.embed_texts(["a person riding a bicycle among pedestrians"])[0]
    moments = ground(query, embeddings, times, CONFIG, k=5)
    assert 1 <= len(moments) <= 5
    assert [m.score for m in moments] == sorted((m.score for m in moments), reverse=True)
    for m in moments:
        assert times[0] - EPS <= m.start < m.end <= times[-1] + 0.2 + EPS
        assert m.end <= times[0] + 8.0 + EPS or m.start >= times[0] + 12.0 - EPS  # no gap
    starts = np.array([m.start for m in moments])
    ends = np.array([m.end for m in moments])
    for i, m in enumerate(moments):
        others = np.delete(np.arange(len(moments)), i)
        assert (temporal_iou(m.start, m.end, starts[others], ends[others]) <= CONFIG.nms_iou).all()
    assert ground(query, embeddings, times, CONFIG, k=5) == moments  # deterministic


def test_times_fall_on_the_frames_grid(clip, footage):
    """Moments start on the 5-fps grid of the stored frames (pruned frames' holes are bridged,
    the offline stretch is not) and are reported in the frames' own epoch seconds."""
    embeddings, times = footage
    query = clip.embed_texts(["a cart on the walkway"])[0]
    for m in ground(query, embeddings, times, CONFIG, k=10):
        for edge in (m.start, m.end):
            cells = (edge - times[0]) / 0.2
            assert abs(cells - round(cells)) < 0.01, edge - times[0]
        assert m.end - m.start >= 0.2 - EPS
