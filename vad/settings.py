"""The settings the pure core reads: the model folder and the sections of vad/ code.

`CoreSettings` is the part of the one `Settings` object (composed in `service/settings.py`, read
once from `VAD_*` variables) that vad/ code may take whole (`vad eval`, the stage-2 loader): the
pure core never sees connection URLs, ports or API limits. Each section class lives beside the
module that owns it; the window section is here because both the dispatcher (workers/) and
`vad eval`'s stage 2 cut footage into windows.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from vad.encoders.config import EncoderConfig, ZeroShotConfig
from vad.grounding.config import GroundingConfig
from vad.incidents import IncidentConfig
from vad.scoring.appearance_normality import AppearanceNormalityConfig
from vad.scoring.motion import ScoringConfig
from vad.scoring.normality.config import NormalityConfig
from vad.scoring.object_normality import ObjectNormalityConfig
from vad.scoring.velocity import VelocityConfig
from vad.section import Section
from vad.stage2.config import Stage2Config


class WindowConfig(Section):
    """How the dispatcher cuts each camera's frame stream into scoring windows."""

    seconds: float = Field(2.0, gt=0, description="Length of a window in capture time.")
    idle_flush_seconds: float = Field(
        3.0,
        gt=0,
        description=(
            "An open window is closed after this long without a new frame from its camera (wall "
            "clock)."
        ),
    )
    context_frames: int = Field(
        6,
        ge=0,
        le=64,
        description=(
            "Previous kept frames of the same camera read with each window, so scorers can look "
            "back (motion, flow, smoothing). The normality model needs 6: flow over a 2-frame gap "
            "plus 4 frames of smoothing."
        ),
    )
    requeue_after_seconds: float = Field(
        60.0,
        gt=0,
        description=(
            "A window queued but not scored after this long is enqueued again (lost broker "
            "message, killed worker)."
        ),
    )
    max_attempts: int = Field(
        5, ge=1, description="Scoring attempts before a window is marked failed with its error."
    )


class CoreSettings(BaseModel):
    """The model folder and every section vad/ code reads (a base of `service.settings.Settings`,
    so a process passes its one settings object down unchanged)."""

    model_config = ConfigDict(extra="forbid")

    model_dir: Path = Field(
        Path("var/models"),
        description="Model folder: fitted normality models and exported ONNX encoders.",
    )
    windows: WindowConfig = Field(default_factory=WindowConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    incidents: IncidentConfig = Field(default_factory=IncidentConfig)
    normality: NormalityConfig = Field(default_factory=NormalityConfig)
    velocity: VelocityConfig = Field(default_factory=VelocityConfig)
    objects: ObjectNormalityConfig = Field(default_factory=ObjectNormalityConfig)
    appearance: AppearanceNormalityConfig = Field(default_factory=AppearanceNormalityConfig)
    encoders: EncoderConfig = Field(default_factory=EncoderConfig)
    zero_shot: ZeroShotConfig = Field(default_factory=ZeroShotConfig)
    stage2: Stage2Config = Field(default_factory=Stage2Config)
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)
