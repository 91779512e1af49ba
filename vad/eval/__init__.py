"""Offline evaluation: frame-level metrics, dataset label readers and end-to-end benchmarks."""

from vad.eval.datasets import ped2_labels, read_ucf_annotations, ucf_frame_labels
from vad.eval.metrics import frame_metrics, per_video_auc
from vad.eval.runner import evaluate_ped2, evaluate_videos

__all__ = [
    "evaluate_ped2",
    "evaluate_videos",
    "frame_metrics",
    "per_video_auc",
    "ped2_labels",
    "read_ucf_annotations",
    "ucf_frame_labels",
]
