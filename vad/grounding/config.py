"""Settings of training-free grounding (`VAD_GROUNDING__*`)."""

from __future__ import annotations

from pydantic import Field

from vad.section import Section


class GroundingConfig(Section):
    """Training-free temporal grounding: a text query against a camera's frame embeddings."""

    sigma_seconds: float = Field(
        2.0, gt=0, description="Gaussian smoothing of the similarity curve (standard deviation)."
    )
    grid_seconds: float = Field(
        0.0,
        ge=0,
        description=(
            "Step of the regular time grid the curve is resampled onto; 0 = the median spacing "
            "of the frames (pruned and sampled frames arrive at irregular times)."
        ),
    )
    max_gap_seconds: float = Field(
        10.0,
        gt=0,
        description=(
            "A stretch without frames longer than this splits the footage: no moment spans it."
        ),
    )
    scales_seconds: tuple[float, ...] = Field(
        (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0),
        min_length=1,
        description="Lengths of the sliding-window proposals (runs above thresholds add more).",
    )
    thresholds: tuple[float, ...] = Field(
        (0.5, 0.7, 0.85),
        description=(
            "Levels (fraction between the curve's minimum and maximum) whose runs above become "
            "proposals, as in TFVTG."
        ),
    )
    dynamic_weight: float = Field(
        0.5,
        ge=0,
        description="Weight of the dynamic term (rise of similarity at the start) in the score.",
    )
    nms_iou: float = Field(
        0.3, gt=0, le=1, description="Temporal IoU above which a lower-scored moment is dropped."
    )
