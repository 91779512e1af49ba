"""Readers of the frame-level ground truth of the benchmark datasets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def ped2_labels(labels_json: Path) -> dict[str, np.ndarray]:
    """{video name (no extension): 0/1 label per decoded frame} from Ped2's test_labels.json."""
    doc = json.loads(Path(labels_json).read_text())
    return {name: np.asarray(v["labels"], dtype=np.int8) for name, v in doc["videos"].items()}


@dataclass(frozen=True)
class TemporalAnnotation:
    """One line of UCF-Crime's Temporal_Anomaly_Annotation.txt; spans are inclusive frames."""

    name: str
    label: str
    spans: tuple[tuple[int, int], ...]


def read_ucf_annotations(path: Path) -> dict[str, TemporalAnnotation]:
    """Parse `Name.mp4  Class  s1  e1  s2  e2` lines (-1 = no span); keyed by file stem."""
    out: dict[str, TemporalAnnotation] = {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) < 6:
            continue
        s1, e1, s2, e2 = (int(v) for v in parts[2:6])
        spans = tuple((s, e) for s, e in ((s1, e1), (s2, e2)) if s >= 0 and e >= 0)
        stem = Path(parts[0]).stem
        out[stem] = TemporalAnnotation(stem, parts[1], spans)
    return out


def ucf_frame_labels(annotation: TemporalAnnotation, frames: int) -> np.ndarray:
    """Frame f is anomalous if s <= f <= e for one of the spans (indices of the decoded file)."""
    y = np.zeros(frames, dtype=np.int8)
    for s, e in annotation.spans:
        y[max(s, 0) : max(min(e + 1, frames), 0)] = 1
    return y
