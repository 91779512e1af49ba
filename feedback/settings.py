"""Settings of feedback and relearning (`VAD_FEEDBACK__*`), and `FeedbackSettings`: what
feedback/ reads of the one settings object (a base of `service/settings.Settings`)."""

from __future__ import annotations

from pydantic import Field

from vad.section import Section
from vad.settings import CoreSettings


class FeedbackConfig(Section):
    """What operators' feedback and `vad camera learn --recent` teach the models (issue 20)."""

    max_frames: int = Field(
        3000,
        ge=10,
        description=(
            "Most frames one false alarm teaches (its first ones): an incident left open for "
            "hours is not learned whole."
        ),
    )
    recalibrate: bool = Field(
        False,
        description=(
            "Recalibrate each model on the false alarm's held-out scores. Off: the parent's "
            "calibration is kept, so the false alarm stops firing where it looked like that and "
            "the camera's sensitivity elsewhere is unchanged (vad/scoring/incremental.py)."
        ),
    )
    spread: float = Field(
        0.0,
        ge=0,
        le=0.5,
        description=(
            "How far, as a fraction of the frame width, a false alarm's local norms spread: each "
            "cell of the pixel and velocity models also learns what the cells that near it saw, "
            "so the same walker a step to the side does not fire again (0: the exact cells)."
        ),
    )
    relearn_max_frames: int = Field(
        20000,
        ge=100,
        description=(
            "Most stored frames `vad camera learn --recent` reads; beyond it, windows evenly "
            "spread over the period (each with its look-back frames)."
        ),
    )
    relearn_check_seconds: float = Field(
        300.0,
        gt=0,
        description=(
            "How often `vad up` looks for cameras whose scheduled relearn "
            "(`vad camera relearn NAME --every 24h`) is due."
        ),
    )


class FeedbackSettings(CoreSettings):
    """The core (model folder, windows, encoders, the models' sections) and this folder's own
    section: all that learning from a verdict needs."""

    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
