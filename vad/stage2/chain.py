"""The LAVAD chain on one flagged window: caption the chosen frames, clean the captions, summarize,
rate, explain.

Frames are chosen beforehand by the density-aware sampler over the window's stage-1 scores
(`choose_frames`), so the captioner looks mostly where stage 1 saw something but never only
there. Interpolating unparsed ratings and refining over similar summaries need the camera's
history and happen where that lives (`workers/stage2.py`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vad.scoring.sampler import select_frames
from vad.stage2 import prompts
from vad.stage2.answers import ParsedScore, parse_score
from vad.stage2.backends import LLM, Captioner
from vad.stage2.config import Stage2Config
from vad.stage2.scene import states_a_speed
from vad.stage2.similarity import Cleaned, ImageTextEncoder, SummaryEmbedder, clean_captions


def choose_frames(scores: Sequence[float], config: Stage2Config) -> list[int]:
    """Positions (into the window's frames) to caption; NaN scores (undecodable frames) count
    as the window's minimum."""
    return select_frames(
        np.asarray(scores, dtype=np.float64), config.frames_per_window, config.sampler_uniform
    )


@dataclass(frozen=True)
class WindowInput:
    images: list[np.ndarray]  # the chosen frames, BGR, in time order
    times: list[float]  # their capture times (epoch seconds)
    context: str | None = None  # the camera's context prompt
    neighbour_captions: list[str] = field(default_factory=list)
    # scene descriptions (seconds from the window start, sentence) standing in for captions
    # when no captioner is installed (`vad.stage2.scene.describe_window`)
    scene: list[tuple[float, str]] | None = None


@dataclass
class ChainResult:
    captions_raw: list[str]
    captions_clean: list[str]
    cleaning: str
    summary: str
    rated: bool  # False: the rating was not asked for (explanations only)
    answer: str | None  # the raw rating answer; None when not rated
    score: float | None
    score_error: str | None
    explanation: str
    embedding: list[float]
    embedding_kind: str
    seconds: float
    stage_seconds: dict[str, float]
    # this process's CPU seconds per step: what one free core takes, whatever else runs (the
    # wall time stretches on a busy machine); an LLM behind an endpoint spends its CPU elsewhere
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)


class Stage2Chain:
    """Models are loaded once per worker process; `run` is called per window."""

    def __init__(
        self,
        captioner: Captioner,
        llm: LLM,
        config: Stage2Config,
        encoder: ImageTextEncoder | None = None,
    ) -> None:
        self.captioner = captioner
        self.llm = llm
        self.config = config
        self.encoder = encoder
        self.embedder = SummaryEmbedder(encoder)
        self.choices = [prompts.format_value(v) for v in config.score_values]

    def models(self) -> dict[str, str | None]:
        return {
            "captioner": self.captioner.name,
            "llm": self.llm.name,
            "encoder": self.encoder.name if self.encoder is not None else None,
        }

    def run(self, window: WindowInput, rate: bool = True) -> ChainResult:
        """Summary, rating (unless `rate` is False: a model with fusion weight 0 changes no
        score, so its rating would only cost a call) and the one-sentence explanation, as one
        dialogue whose calls share their beginning (`vad.stage2.prompts`). A quiet scene
        description (no measured speed: `states_a_speed`) is its own summary and explanation
        (`prompts.quiet_account`): a small LLM invented crimes and garbled counts there."""
        cfg, clock, started = self.config, _Clock(), time.perf_counter()
        quiet = False
        if window.scene is not None:  # sentences from detections: nothing to caption or clean
            raw = [sentence for _, sentence in window.scene]
            cleaned = Cleaned(raw, "skipped: scene descriptions from the detector")
            dialogue = prompts.scene_dialogue(raw, window.context)
            quiet = not states_a_speed(raw)
        else:
            raw = self.captioner.caption(window.images, prompts.CAPTION, cfg.caption_tokens)
            clock.lap("caption")
            cleaned = clean_captions(window.images, raw, window.neighbour_captions, self.encoder)
            clock.lap("clean")
            start = window.times[0] if window.times else 0.0
            timeline = [(t - start, c) for t, c in zip(window.times, cleaned.captions, strict=True)]
            dialogue = prompts.summary_dialogue(timeline, window.context)
        account = prompts.quiet_account(raw) if quiet else None
        summary = account or self.llm.generate(dialogue, cfg.summary_tokens)
        clock.lap("summary")
        answer, parsed, asked = None, ParsedScore(None), dialogue
        if rate:
            asked = prompts.follow_up(dialogue, summary, prompts.score_question(cfg.score_values))
            answer = self.llm.choose(asked, self.choices)
            parsed = parse_score(answer, cfg.score_values)
            clock.lap("score")
        explanation = account or self._explain(dialogue, summary, asked, parsed)
        clock.lap("explain")
        return ChainResult(
            captions_raw=list(raw),
            captions_clean=cleaned.captions,
            cleaning=cleaned.note,
            summary=summary,
            rated=rate,
            answer=answer,
            score=parsed.value,
            score_error=parsed.error,
            explanation=explanation,
            embedding=self.embedder.embed(summary),
            embedding_kind=self.embedder.kind,
            seconds=time.perf_counter() - started,
            stage_seconds=clock.laps,
            stage_cpu_seconds=clock.cpu_laps,
        )

    def _explain(
        self,
        dialogue: list[prompts.Message],
        summary: str,
        asked: list[prompts.Message],
        parsed: ParsedScore,
    ) -> str:
        """The one-sentence explanation: after the rating it was given, else (not rated, or the
        answer did not parse) after the summary."""
        if parsed.value is not None:
            explain = prompts.follow_up(asked, prompts.format_value(parsed.value), prompts.EXPLAIN)
        else:
            explain = prompts.follow_up(dialogue, summary, prompts.EXPLAIN)
        said = self.llm.generate(explain, self.config.explanation_tokens, prompts.SENTENCE_STOPS)
        return prompts.one_sentence(said)


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.cpu_laps: dict[str, float] = {}
        self._last, self._last_cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.laps[name] = round(now - self._last, 4)
        self.cpu_laps[name] = round(cpu - self._last_cpu, 4)
        self._last, self._last_cpu = now, cpu
