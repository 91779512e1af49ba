"""Settings of the encoders (`settings.encoders`) and of zero-shot scoring (`settings.zero_shot`).

Kept next to the code they configure (like the normality config) and mounted into `Settings`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vad.object_vocabulary import VOCABULARY

DEFAULT_NORMAL_PROMPTS = (
    "people walking on a sidewalk",
    "a quiet street with a few pedestrians",
    "an empty walkway",
    "people standing and talking",
    "cars driving normally on the road",
)
DEFAULT_ANOMALY_PROMPTS = (
    "two people fighting",
    "someone climbs the fence",
    "a car drives on the walkway",
    "a person riding a bicycle through pedestrians",
    "a person falls down on the ground",
    "a person running away",
    "smoke or fire",
    "someone breaking a window",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EncoderConfig(_Section):
    """Which exported encoders the workers run and how (see `vad models list`)."""

    enabled: bool = Field(
        True,
        description=(
            "Run the installed encoders on kept frames; stages whose model is not installed are "
            "skipped with a log line saying how to install it."
        ),
    )
    clip: str = Field(
        "clip-vit-b32",
        description="Image-text model (folder name under <model_dir>/encoders) for embeddings.",
    )
    detector: str = Field(
        "ssd-mobilenetv2-oidv4",
        description=(
            "Detector model (folder name under <model_dir>/encoders). The default, MediaPipe's "
            "SSD-MobileNetV2 (Open Images), is pulled with npm and converted without torch."
        ),
    )
    run_detector: bool = Field(
        True, description="Run the detector when installed (false: CLIP stages only)."
    )
    providers: tuple[str, ...] = Field(
        (),
        description=(
            "ONNX Runtime providers in order of preference; empty = TensorRT > CUDA > CPU, "
            "whichever this onnxruntime build offers (CPU is always the fallback)."
        ),
    )
    threads: int = Field(
        0, ge=0, description="Intra-op threads per session; 0 = ONNX Runtime's default."
    )
    batch_size: int = Field(
        32, ge=1, le=256, description="Frames per inference batch (a whole window is one batch)."
    )
    detector_confidence: float = Field(
        0.3,
        ge=0,
        le=1,
        description=(
            "Detections under this confidence are dropped (0.3: on UCSD Ped2 the default "
            "detector finds 85% of hand-labelled people and no vehicle on normal footage; "
            "docs/benchmarks.md)."
        ),
    )
    detector_ignore: tuple[str, ...] = Field(
        ("footwear",),
        description=(
            "Shared-vocabulary labels the detector never reports (their scores are zeroed "
            "before the best class is picked): the Open Images detector boxes people's shoes "
            "as footwear, a part of a person, not an object of its own."
        ),
    )
    detector_iou: float = Field(
        0.45, gt=0, le=1, description="Overlap above which NMS drops the weaker box."
    )
    detector_image_size: int = Field(
        640, ge=32, description="Detector input size chosen at `vad models export` time."
    )

    @field_validator("detector_ignore")
    @classmethod
    def _known_labels(cls, labels: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(labels) - set(VOCABULARY))
        if unknown:
            raise ValueError(f"{unknown} are not labels of the shared vocabulary {VOCABULARY}")
        return labels

    store_embeddings: bool = Field(
        True, description="Store each kept frame's image embedding in PostgreSQL (pgvector)."
    )
    hub_endpoint: str | None = Field(
        None,
        description=(
            "Hugging Face hub URL for `vad models pull`; unset = huggingface_hub's default "
            "(HF_ENDPOINT or https://huggingface.co)."
        ),
    )
    assets_url: str = Field(
        "https://github.com/ultralytics/assets/releases/download/v8.3.0",
        description="Where `vad models pull` fetches ultralytics detector weights from.",
    )
    pull_timeout_seconds: float = Field(
        15.0, gt=0, description="Connect/read timeout of one download request."
    )


class ZeroShotConfig(_Section):
    """CLIP zero-shot anomaly scoring from sentences, fused with the stage-1 score."""

    enabled: bool = Field(
        True, description="Score frames against the watch rules when a CLIP model is installed."
    )
    normal_prompts: tuple[str, ...] = Field(
        DEFAULT_NORMAL_PROMPTS,
        min_length=1,
        description="Sentences describing normal scenes (a camera may add its own).",
    )
    anomaly_prompts: tuple[str, ...] = Field(
        DEFAULT_ANOMALY_PROMPTS,
        min_length=1,
        description="Default watch rules: sentences describing what should raise an incident.",
    )
    use_defaults: bool = Field(
        True,
        description=(
            "Cameras use the default prompts in addition to their own watch rules; if false, a "
            "camera without anomaly rules gets no zero-shot score."
        ),
    )
    temperature: float = Field(
        0.01,
        gt=0,
        description="Softmax temperature over cosine similarities (CLIP's own scale is 1/100).",
    )
    weight: float = Field(
        1.0,
        ge=0,
        le=1,
        description=(
            "Fusion: frame score = max(stage-1 score, weight x zero-shot probability); 0 turns "
            "zero-shot into a stored signal that never raises incidents."
        ),
    )
