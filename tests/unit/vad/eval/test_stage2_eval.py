"""`vad eval stage2`'s arithmetic: which windows stage 2 sees, fusion, false alarms per hour at
90 % recall."""

from __future__ import annotations

import numpy as np

from service.settings import Settings
from vad.eval.stage2 import WindowRow, false_alarms_per_hour, flagged_windows, fused
from vad.stage2.weight import FusionWeight


def test_false_alarms_at_the_threshold_keeping_90_percent_of_anomalies():
    labels = np.array([1] * 10 + [0] * 1800)
    scores = np.concatenate([np.linspace(0.9, 0.5, 10), np.full(1800, 0.1)])
    scores[10:13] = 0.6  # three normal windows above the 90 %-recall threshold (0.544)
    # 1800 normal 2-s windows = 1 hour
    assert false_alarms_per_hour(labels, scores, 2.0) == 3.0
    assert false_alarms_per_hour(np.zeros(5, int), np.zeros(5), 2.0) is None


def test_only_analysed_windows_are_fused_and_only_raised():
    rows = [
        WindowRow("v", 0, 0.8, 1, True, llm=0.0),
        WindowRow("v", 20, 0.3, 0),
        WindowRow("v", 40, 0.2, 1, True, llm=0.9),
    ]
    half = FusionWeight("m", 0.5, 0.3, "test")
    assert fused(rows, half).tolist() == [0.8, 0.3, 0.5]
    zero = FusionWeight("m", 0.0, 0.3, "test")
    assert fused(rows, zero).tolist() == [0.8, 0.3, 0.2]


def test_windows_sent_are_those_where_an_incident_opens_or_its_peak_rises():
    settings = Settings(_env_file=None)
    scores = np.concatenate([np.full(100, 0.05), np.full(60, 0.95), np.full(100, 0.05)])
    windows = flagged_windows(scores, list(np.arange(260) / 10.0), 20, settings)
    assert [w[0] for w in windows] == list(range(0, 260, 20))
    sent = [start for start, _, s in windows if s]
    assert sent and all(100 <= start < 160 for start in sent)
    assert len(sent) <= settings.stage2.max_per_incident


def test_a_window_of_analysed_frames_covers_the_decoded_frames_up_to_the_next_window():
    from vad.eval.stage2 import _decoded_span
    from vad.video import AnalysedClip

    frames = [np.zeros((2, 2))] * 6
    clip = AnalysedClip(frames, [0, 3, 5, 8, 10, 13], 15, 25.0, 10.0)  # 25 fps by media time at 10
    spans = [_decoded_span(clip, start, 2) for start in (0, 2, 4)]
    assert [(s.start, s.stop) for s in spans] == [(0, 5), (5, 10), (10, None)]
    assert clip.times()[:3] == [0.0, 0.12, 0.2]
