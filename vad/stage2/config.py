"""Settings of the stage-2 chain (`VAD_STAGE2__*`)."""

from __future__ import annotations

from pydantic import Field

from vad.section import Section


class Stage2Config(Section):
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
