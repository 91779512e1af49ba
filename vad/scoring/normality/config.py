"""Defaults of the per-camera normality model.

Every value here is a generic, dataset-independent choice (internal resolution, grid size, number
of neighbours, calibration quantile); nothing is tuned per camera or per dataset. The model stores
the config it was fitted with, so a saved model always scores the way it was calibrated.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class NormalityConfig(BaseModel):
    """How a per-camera normality model is fitted, scored and calibrated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    families: tuple[str, ...] = Field(
        ("shape",),
        min_length=1,
        description=(
            "Feature families used, by registered name: 'shape' (edge orientations of the moving "
            "pixels + flow direction histogram, one joint vector per cell), 'flow' (flow "
            "statistics only), 'appearance' (edge orientations of the whole frame); each gets its "
            "own per-cell memory and the worst family decides."
        ),
    )
    internal_width: int = Field(
        192,
        ge=32,
        le=1280,
        description=(
            "Frames are converted to grey and resized to this width (aspect kept, snapped to whole "
            "cells) before any feature is computed; fixes the cost per frame whatever the camera "
            "resolution."
        ),
    )
    cell_px: int = Field(
        16,
        ge=4,
        le=128,
        description=(
            "Side of one grid cell in internal pixels; every cell has its own model because a fixed"
            " camera's scene differs by position."
        ),
    )
    overlapping_cells: bool = Field(
        True,
        description=(
            "'shape' cells overlap by half a cell in both directions (like HOG's overlapping "
            "blocks): an object straddling a cell border is then also seen whole by the cell "
            "centred on it instead of only as two half-outlines that each look like part of a "
            "walker. 3.6x the cells at 192x128 (23 x 15 instead of 12 x 8); scoring is ~10% "
            "slower, fitting ~15%."
        ),
    )
    flow_preset: int = Field(
        2,
        ge=0,
        le=2,
        description=("OpenCV DIS optical-flow preset (0 ultrafast, 1 fast, 2 medium)."),
    )
    flow_gap: int = Field(
        2,
        ge=1,
        le=8,
        description=(
            "Frame i's motion is the optical flow from frame i - flow_gap to frame i. A longer "
            "baseline multiplies every displacement while the flow's error stays about the same, "
            "so slow movers (walkers at low frame rates) and somewhat faster ones (a bicycle at "
            "walking pace) are told apart better than from adjacent frames."
        ),
    )
    stabilise: bool = Field(
        True,
        description=(
            "Shift each flow pair's earlier frame onto the later one when the whole view moved (a "
            "camera shaking on its pole; vad/scoring/stabilise.py). A steady camera's scores are "
            "unchanged bit for bit."
        ),
    )
    motion_quantile: float = Field(
        0.999,
        gt=0.5,
        lt=1,
        description=(
            "A pixel counts as moving when its flow magnitude exceeds this quantile of all "
            "training pixels' flow magnitudes, learned per camera at fit time (so it follows the "
            "camera's resolution, frame rate, flow_gap and usual speeds instead of a fixed "
            "number of pixels); features then describe what moves faster than nearly all of the "
            "camera's normal footage."
        ),
    )
    perspective_threshold: bool = Field(
        True,
        description=(
            "Scale the learned motion threshold per image row by the camera's perspective prior "
            "(the row's high quantile of training cell speeds, fitted linear in the row): far "
            "rows, where everything moves fewer pixels, get a lower threshold, so a far cyclist "
            "is seen as moving as a near one is (a camera looking down a walkway)."
        ),
    )
    perspective_shrinkage: bool = Field(
        False,
        description=(
            "Shrink that prior's slope by its evidence (vad/scoring/velocity.perspective_slope): "
            "rows without a clear perspective (a side view) keep the learned threshold."
        ),
    )
    neighbours: int = Field(
        1,
        ge=1,
        le=32,
        description=(
            "A cell's raw score is its mean distance to this many nearest training feature vectors "
            "of the same cell."
        ),
    )
    memory_per_cell: int = Field(
        1024,
        ge=16,
        le=16384,
        description=(
            "Training vectors kept per cell (greedy k-center coreset, which keeps rare-but-normal "
            "patterns); bounds memory and scoring cost on long footage."
        ),
    )
    per_cell_normalisation: bool = Field(
        False,
        description=(
            "Divide each cell's distance by its own held-out reference quantile (floored at the "
            "median cell) so busy and quiet positions fire equally often on normal footage."
        ),
    )
    busy_correction: Literal["off", "count", "curve"] = Field(
        "off",
        description=(
            "How the frame's worst cell is corrected for how many cells move in it "
            "(vad/scoring/normality/busy.py): 'off' the plain max; 'count' the max read as the "
            "largest of n moving cells' draws from one continuous distribution of a moving "
            "cell's distance; 'curve' the max divided by a power of the moving cells fitted on "
            "held-out training frames. A crowd has more draws at the tail than the quieter "
            "footage the calibration saw."
        ),
    )
    calibration_folds: int = Field(
        4,
        ge=2,
        le=16,
        description=(
            "Training clips (or chunks of one clip) are split into this many folds; each fold is "
            "scored against a memory built from the others to get honest, not self-matched, "
            "training scores for calibration."
        ),
    )
    reference_quantile: float = Field(
        0.99,
        gt=0.5,
        lt=1,
        description=(
            "Training-score quantile that maps to a calibrated score of 0.5: score = L / (L + "
            "L_ref), L = -log(tail probability), L_ref = -log(1 - reference_quantile)."
        ),
    )
    tail_quantile: float = Field(
        0.9,
        gt=0.5,
        lt=1,
        description=(
            "Above this training quantile the score distribution is modelled by a fitted "
            "exponential tail, so probabilities beyond the largest training score stay finite and "
            "ordered."
        ),
    )
    smoothing_frames: float = Field(
        2.0,
        ge=0,
        le=16,
        description=(
            "Gaussian temporal smoothing sigma in frames (0 = off); causal (half kernel over "
            "preceding frames) when scoring windows, so a frame's score never depends on the "
            "future."
        ),
    )
    seed: int = Field(
        0,
        description=(
            "Seed of the random subsampling done before coreset selection (fits are reproducible)."
        ),
    )
