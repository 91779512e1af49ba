"""Detections for people: boxes in the source frame's pixels, as JSON and drawn on the frame."""

from __future__ import annotations

import zlib

import cv2
import numpy as np

from vad.encoders.detectors.base import Detection


def pixel_box(detection: Detection, width: int, height: int) -> list[float]:
    """The normalised box in pixels of a width x height frame (x1, y1, x2, y2), 0.1 px."""
    x1, y1, x2, y2 = detection.box
    return [
        round(x1 * width, 1),
        round(y1 * height, 1),
        round(x2 * width, 1),
        round(y2 * height, 1),
    ]


def frame_record(index: int, detections: list[Detection], width: int, height: int) -> dict:
    """`vad detect --json`'s line for one frame."""
    return {
        "frame": index,
        "detections": [
            {
                "label": d.class_name,
                "score": round(d.confidence, 4),
                "box": pixel_box(d, width, height),
            }
            for d in detections
        ],
    }


def label_colour(label: str) -> tuple[int, int, int]:
    """A stable, saturated BGR colour per label (the same label looks the same in every video)."""
    hue = zlib.crc32(label.encode()) % 180
    pixel = np.array([[[hue, 220, 255]]], np.uint8)
    b, g, r = cv2.cvtColor(pixel, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw(frame: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """A copy of the BGR frame with each detection's box, label and score."""
    out = frame.copy()
    height, width = out.shape[:2]
    for d in detections:
        x1, y1, x2, y2 = (int(round(v)) for v in pixel_box(d, width, height))
        colour = label_colour(d.class_name)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 1)
        text = f"{d.class_name} {d.confidence:.2f}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
        top = max(y1 - th - 3, 0)
        cv2.rectangle(out, (x1, top), (x1 + tw + 2, top + th + 3), colour, -1)
        cv2.putText(
            out,
            text,
            (x1 + 1, top + th + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.35,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return out
