"""Label readers on the real annotation files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vad.eval.datasets import ped2_labels, read_ucf_annotations, ucf_frame_labels


def test_ped2_labels_match_the_readme(ped2: Path) -> None:
    labels = ped2_labels(ped2 / "test_labels.json")
    assert len(labels) == 12
    assert sum(len(v) for v in labels.values()) == 2010
    assert sum(int(v.sum()) for v in labels.values()) == 1648
    assert labels["test_01"][59] == 0 and labels["test_01"][60] == 1


def test_ucf_spans_are_inclusive(tmp_path: Path) -> None:
    path = tmp_path / "ann.txt"
    path.write_text(
        "Arson011_x264.mp4  Arson  150  420  680  1267\nNormal_Videos_003_x264.mp4  "
        "Normal  -1  -1  -1  -1\n"
    )
    ann = read_ucf_annotations(path)
    assert ann["Arson011_x264"].spans == ((150, 420), (680, 1267))
    y = ucf_frame_labels(ann["Arson011_x264"], 1300)
    assert y[149] == 0 and y[150] == 1 and y[420] == 1 and y[421] == 0 and y[1267] == 1
    assert ucf_frame_labels(ann["Normal_Videos_003_x264"], 10).sum() == 0
    assert ucf_frame_labels(ann["Arson011_x264"], 200).sum() == 50  # spans cut to the video


def test_real_ucf_annotation_file_parses(ped2: Path) -> None:
    path = ped2.parent / "ucf_crime" / "Temporal_Anomaly_Annotation.txt"
    ann = read_ucf_annotations(path)
    assert len(ann) == 290
    normal = [a for a in ann.values() if a.label == "Normal"]
    assert normal and all(a.spans == () for a in normal)
    assert all(s <= e for a in ann.values() for s, e in a.spans)
    assert np.mean([len(a.spans) > 0 for a in ann.values()]) > 0.4
