"""Request and response bodies. Requests forbid unknown fields, so a typo is a 422 naming it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

EventType = Literal["incident.opened", "incident.updated", "incident.closed", "incident.analyzed"]
CAMERA_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        """PostgreSQL text cannot hold NUL: a 422 naming the field, not a database error."""
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) and "\x00" in item for item in items):
            raise ValueError("must not contain NUL characters")
        return value


MAX_URL = 2000
MAX_LIST = 100


class CameraIn(_In):
    name: str = Field(pattern=CAMERA_NAME, description="Unique name: letters, digits, . _ -")
    url: str = Field(
        min_length=1,
        max_length=MAX_URL,
        description="rtsp://, http(s):// or a video file under the media folder; a password in "
        "it is stored encrypted and never shown again",
    )
    verify_tls: bool = Field(True, description="Check rtsps/https certificates")
    fps: float | None = Field(None, gt=0, le=60, description="Analysis fps; null = default")
    threshold: float | None = Field(None, ge=0, le=1, description="Incident threshold")
    loop: bool = Field(False, description="Replay a file source endlessly")
    enabled: bool = Field(True, description="Ingest it (false = a camera for replays only)")


class CameraPatch(_In):
    """Only the fields sent change; null fps/threshold means "back to the default"."""

    fps: float | None = Field(None, gt=0, le=60)
    threshold: float | None = Field(None, ge=0, le=1)
    enabled: bool = True
    verify_tls: bool = True


class CameraOut(BaseModel):
    id: int
    name: str
    url: str = Field(description="The URL with any credentials replaced by ***")
    has_credentials: bool = Field(description="The URL holds credentials (stored encrypted)")
    verify_tls: bool
    enabled: bool
    status: str
    status_reason: str | None = Field(
        description="Why not online: the detail for admin tokens, its kind for read tokens"
    )
    status_at: datetime | None
    fps: float = Field(
        description="The analysis fps setting in effect (the camera's own, else the default); "
        "the rate actually analysed is analysed_fps"
    )
    fps_setting: float | None = Field(description="The camera's own fps; null = default")
    source_fps: float | None = Field(
        description="The frame rate the source announced at its latest connection; null = "
        "unknown (it announces none, or it has not connected yet)"
    )
    analysed_fps: float = Field(
        description="Frames per second actually analysed: every analysis_stride-th source "
        "frame, the whole stride that brings the source's rate closest to fps (25 fps set to 10: "
        "8.33); fps itself when the source's rate is unknown"
    )
    analysis_stride: int | None = Field(
        description="Every how many source frames one is analysed; null = the source's rate is "
        "unknown (frames kept by time at fps)"
    )
    threshold: float = Field(description="Effective incident threshold")
    threshold_setting: float | None
    kept_frames: int
    pruned_frames: int
    dropped_frames: int
    pruned_ratio: float | None
    created_at: datetime


class IncidentOut(BaseModel):
    id: int
    camera: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    peak_score: float
    peak_at: datetime
    threshold: float
    scorer: str | None
    rule: str | None
    key_frame_url: str | None
    fused_score: float | None = Field(
        None, description="Stage 1 + stage 2 score (docs/stage2.md); null until stage 2 rated it"
    )
    explanation: str | None = Field(None, description="Stage 2's one-sentence explanation")
    zones: list[str] | None = Field(
        None, description="Zones its frames over the threshold touched; null = camera had none"
    )


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    total: int
    limit: int
    offset: int


class ScorePoint(BaseModel):
    t: datetime
    score: float | None
    offset: int


class Stage2Out(BaseModel):
    """One stage-2 analysis of one of the incident's windows (docs/stage2.md)."""

    model_config = ConfigDict(from_attributes=True)

    window_id: int
    trigger: str
    status: str = Field(description="pending, running, done, skipped or failed")
    reason: str | None = Field(description="why skipped or failed")
    frame_indices: list[int] | None
    frame_times: list[float] | None = Field(description="capture times, epoch seconds")
    captions_raw: list[str] | None
    captions_clean: list[str] | None
    summary: str | None
    answer: str | None = Field(description="the LLM's raw rating answer")
    answer_error: str | None = Field(description="why the answer did not parse")
    llm_score: float | None
    score: float | None = Field(description="llm_score, or interpolated from neighbours")
    score_source: str | None = Field(
        description="llm, interpolated, or 'not rated' (explanations only: no rating asked)"
    )
    refined_score: float | None
    fused_score: float | None
    explanation: str | None
    captioner: str | None
    llm: str | None
    encoder: str | None
    prompt_version: str | None


class FeedbackIn(_In):
    verdict: Literal["confirmed", "false_alarm"] = Field(
        description="false_alarm teaches the camera's model these frames are normal (a new "
        "model version); confirmed is recorded"
    )
    note: str | None = Field(None, max_length=2000, description="Why, in the operator's words")


class FeedbackOut(BaseModel):
    verdict: str
    note: str | None
    author: str
    created_at: datetime
    model_version: int | None = Field(description="the model version a false alarm taught")


class FeedbackResultOut(BaseModel):
    incident_id: int
    verdict: str | None = Field(description="None after undo")
    note: str | None
    model_version: int | None = Field(
        description="the version this false alarm created (or that undo retired)"
    )
    lines: list[str] = Field(description="what changed, per model")


class Stage2WeightOut(BaseModel):
    """How much an LLM may raise this camera's scores, set from its ratings of the camera's
    normal footage (`vad stage2 calibrate`, docs/stage2.md); 0 = explanations only (the
    stage-2 worker then skips the rating: it would change no score)."""

    model: str | None
    weight: float
    normal_p95: float = Field(description="ratings at or below this raise nothing")
    explanations_only: bool
    reason: str


class IncidentDetail(IncidentOut):
    score_curve: list[ScorePoint]
    stage2: list[Stage2Out] = Field(default_factory=list, description="stage-2 analyses")
    stage2_weight: Stage2WeightOut | None = Field(
        None, description="the stage-2 LLM's fusion weight on this camera (null: no analysis)"
    )
    feedback: FeedbackOut | None = Field(None, description="the operator's verdict")
    first_window_seq: int
    last_window_seq: int
    created_at: datetime
    updated_at: datetime


class WebhookIn(_In):
    url: AnyHttpUrl = Field(
        max_length=MAX_URL,
        description="http(s) URL that receives POSTed events; credentials and query values in "
        "it are stored encrypted and shown as ***",
    )
    secret: str | None = Field(
        None, min_length=16, max_length=200, description="HMAC key; generated when omitted"
    )
    cameras: list[str] | None = Field(
        None, max_length=MAX_LIST, description="Only these cameras; null = all"
    )
    min_score: float | None = Field(None, ge=0, le=1, description="Only incidents peaking here+")
    zones: list[str] | None = Field(
        None,
        max_length=MAX_LIST,
        description="Only incidents that touched one of these zones; null = all",
    )
    events: list[EventType] = Field(
        default_factory=lambda: list(get_args(EventType)),
        min_length=1,
        max_length=10,
        description="incident.analyzed: stage 2 rated one of the incident's windows (new "
        "fused_score / explanation)",
    )
    enabled: bool = True
    description: str | None = Field(None, max_length=500)


class WebhookPatch(_In):
    enabled: bool = True
    min_score: float | None = Field(None, ge=0, le=1)
    cameras: list[str] | None = Field(None, max_length=MAX_LIST)
    zones: list[str] | None = Field(None, max_length=MAX_LIST)
    events: list[EventType] = Field(default_factory=list, min_length=1, max_length=10)


class WebhookOut(BaseModel):
    id: int
    url: str = Field(description="The URL with userinfo and query values replaced by ***")
    has_credentials: bool = Field(description="The URL holds secrets (stored encrypted)")
    cameras: list[str] | None
    min_score: float | None
    zones: list[str] | None = None
    events: list[str]
    enabled: bool
    description: str | None
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once here; verify X-VAD-Signature with it")


class AttemptOut(BaseModel):
    attempt: int
    started_at: datetime
    ok: bool
    status_code: int | None
    latency_ms: float
    error: str | None


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    incident_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_latency_ms: float | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptOut]
