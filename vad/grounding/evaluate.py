"""Moment-retrieval metrics: R@1 at IoU 0.3/0.5/0.7 and mean IoU of the top-1 moment.

The standard protocol of Charades-STA / UCA grounding: for each (video, sentence), take the best
predicted moment and compare it with the annotated span.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from vad.grounding.config import GroundingConfig
from vad.grounding.data import Sample
from vad.grounding.head import GroundingHead
from vad.grounding.tfvtg import Moment, ground

IOU_LEVELS = (0.3, 0.5, 0.7)
Method = Callable[[Sample], list[Moment]]


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    overlap = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return overlap / union if union > 0 else 0.0


def evaluate(samples: list[Sample], method: Method) -> dict:
    """R@1@{0.3,0.5,0.7}, mIoU (in [0, 1]) and queries per second of one method."""
    ious = []
    began = time.perf_counter()
    for sample in samples:
        found = method(sample)
        top = (found[0].start, found[0].end) if found else (0.0, 0.0)
        ious.append(iou(top, (sample.query.start, sample.query.end)))
    elapsed = time.perf_counter() - began
    values = np.array(ious) if ious else np.zeros(0)
    result: dict = {"queries": len(ious)}
    for level in IOU_LEVELS:
        result[f"R@1,IoU={level}"] = float((values >= level).mean()) if ious else None
    result["mIoU"] = float(values.mean()) if ious else None
    result["queries_per_second"] = len(ious) / elapsed if elapsed > 0 else None
    return result


def training_free(config: GroundingConfig) -> Method:
    def method(sample: Sample) -> list[Moment]:
        f = sample.footage
        return ground(sample.text, f.embeddings, f.timestamps, config, k=1)

    return method


def trained(head: GroundingHead) -> Method:
    def method(sample: Sample) -> list[Moment]:
        f = sample.footage
        return head.ground(sample.text, f.embeddings, f.timestamps, k=1)

    return method
