"""Prompt templates of the LAVAD chain, versioned.

The version stored with every analysis is the hand-set `PROMPT_SERIES` plus a hash of the
templates, so an edit that forgets to bump the series still yields a new version (scores from
different prompts are not comparable, and refinement only mixes comparable ones).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

PROMPT_SERIES = "lavad-1"

CAPTION = "Describe what is happening in this surveillance camera image in one sentence."

SUMMARY = (
    "{context}Below is a temporal description of a surveillance camera scene, one caption per "
    "moment:\n{captions}\n"
    "Please summarize what happened in a few sentences, based on the temporal description above. "
    "Do not include any unnecessary details or descriptions.\nSummary:"
)

SCORE = (
    "{context}Scene summary: {summary}\n"
    "If you were a law enforcement agency, how would you rate the scene described, on a scale "
    "from 0 to 1, with 0 representing a standard scene and 1 denoting a scene with suspicious "
    "activities? Answer with only one number from this list: [{choices}], and no other text.\n"
    "Answer:"
)

EXPLAIN = (
    "{context}Scene summary: {summary}\n"
    "{rating}In one sentence, explain what in the scene is or is not suspicious.\nExplanation:"
)

CONTEXT = "Camera context (what this place is and what is normal here): {text}\n"


def _digest() -> str:
    text = "\x00".join((CAPTION, SUMMARY, SCORE, EXPLAIN, CONTEXT))
    return hashlib.sha1(text.encode()).hexdigest()[:8]


PROMPT_VERSION = f"{PROMPT_SERIES}-{_digest()}"


def format_value(value: float) -> str:
    """How an allowed score is written in prompts and answers: 0, 0.1, ..., 1."""
    return f"{value:g}"


def context_block(context: str | None) -> str:
    text = (context or "").strip()
    return CONTEXT.format(text=text) if text else ""


def summary_prompt(captions: Sequence[tuple[float, str]], context: str | None) -> str:
    """`captions`: (seconds from the window start, cleaned caption) in time order."""
    lines = [f"t={t:.1f}s: {c.strip()}" for t, c in captions if c.strip()]
    return SUMMARY.format(
        context=context_block(context), captions="\n".join(lines) or "(no description)"
    )


def score_prompt(summary: str, values: Sequence[float], context: str | None) -> str:
    choices = ", ".join(format_value(v) for v in values)
    return SCORE.format(context=context_block(context), summary=summary.strip(), choices=choices)


def explain_prompt(summary: str, score: float | None, context: str | None) -> str:
    rating = (
        f"The scene was rated {format_value(score)} on a scale from 0 (standard scene) to 1 "
        "(suspicious activity). "
        if score is not None
        else ""
    )
    return EXPLAIN.format(context=context_block(context), summary=summary.strip(), rating=rating)


def first_sentence(text: str, limit: int = 300) -> str:
    """The explanation is one sentence: cut at the first sentence end (or the limit)."""
    text = " ".join(text.split())
    for i, ch in enumerate(text):
        if ch in ".!?" and (i + 1 == len(text) or text[i + 1] == " "):
            return text[: i + 1][:limit]
    return text[:limit]
