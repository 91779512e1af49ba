"""`vad detect VIDEO`: what the detector sees in a video, for a user checking a camera."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import typer

from service.context import fail, get_context
from vad.encoders.detectors import detector_options, open_detector
from vad.encoders.detectors.annotate import draw, frame_record, pixel_box
from vad.encoders.registry import export_dir
from vad.encoders.runtime import ModelError
from vad.video import iter_video_frames, video_info


def detect(
    ctx: typer.Context,
    video: Path = typer.Argument(..., help="Video file to run the detector on."),
    model: str = typer.Option(
        None, "--model", help="Exported detector (default: VAD_ENCODERS__DETECTOR)."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="One JSON object per frame with the fields frame and detections (label, score, box); "
        "box is x1, y1, x2, y2 in pixels of the source frame; labels come from the shared "
        "vocabulary (person, bicycle, vehicle, ...).",
    ),
    out: Path = typer.Option(None, "--out", help="Write the video with the boxes drawn (.mp4)."),
    confidence: float = typer.Option(
        None, "--confidence", min=0, max=1, help="Minimum score (default: the settings')."
    ),
) -> None:
    """Run the detector on every frame of VIDEO; print per-frame detections (boxes in pixels
    of the source frame) and optionally write an annotated copy."""
    settings = get_context(ctx).settings
    enc = settings.encoders
    name = model or enc.detector
    if not video.is_file():
        fail(f"{video} is not a file")
    try:
        options = detector_options(enc)
        if confidence is not None:
            options["confidence"] = confidence
        detector = open_detector(
            export_dir(settings.model_dir, name), list(enc.providers) or None, **options
        )
        info = video_info(video)
    except (ModelError, OSError) as error:
        fail(str(error))
    writer = _writer(out, info) if out else None
    seen: Counter[str] = Counter()
    frames = 0
    try:
        for index, frame, found in _detections(detector, iter_video_frames(video)):
            frames += 1
            seen.update({d.class_name for d in found})
            height, width = frame.shape[:2]
            if as_json:
                typer.echo(json.dumps(frame_record(index, found, width, height)))
            else:
                typer.echo(_line(index, found, width, height))
            if writer is not None:
                writer.write(draw(frame, found))
    finally:
        if writer is not None:
            writer.release()
    if not as_json:
        summary = ", ".join(f"{label} in {n}" for label, n in seen.most_common()) or "nothing"
        typer.echo(f"{frames} frames, detector {name}: {summary}")
    if out:
        typer.echo(f"annotated video: {out}", err=as_json)


def _detections(detector, frames):
    """(index, frame, detections) in order, frames run through the detector in batches."""
    index = 0
    for batch in _batches(frames, detector.batch_size):
        for frame, found in zip(batch, detector.detect(batch), strict=True):
            yield index, frame, found
            index += 1


def _batches(frames, size: int):
    batch: list = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _line(index, found, width, height) -> str:
    parts = []
    for d in found:
        box = ", ".join(f"{v:.0f}" for v in pixel_box(d, width, height))
        parts.append(f"{d.class_name} {d.confidence:.2f} [{box}]")
    return f"frame {index}: " + ("; ".join(parts) if parts else "-")


def _writer(out: Path, info) -> cv2.VideoWriter:
    out.parent.mkdir(parents=True, exist_ok=True)
    fps = info.fps if info.fps > 0 else 10.0
    writer = cv2.VideoWriter(
        str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (info.width, info.height)
    )
    if not writer.isOpened():
        fail(f"cannot write {out} (OpenCV has no mp4v encoder here?)")
    return writer
