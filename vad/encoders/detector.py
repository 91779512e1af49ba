"""Kept for existing imports: the detector interface and its plugins live in
`vad.encoders.detectors` (base, yolo, ssd)."""

from vad.encoders.detectors import Detection, Detector, nms

__all__ = ["Detection", "Detector", "nms"]
