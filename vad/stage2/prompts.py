"""Prompt templates of the LAVAD chain, versioned, as one chat dialogue per window.

Why a dialogue and why this order: on a CPU, reading the prompt costs most of an analysis
(SmolLM2-135M on one core reads ~120 prompt tokens per second and writes ~50). llama.cpp keeps
the tokens it last read (its KV cache) and re-reads only from the first token that differs, in
process and in its server alike (vLLM's prefix caching and llama.cpp's C++ server do the same).
So every prompt starts with the same fixed text (the system turn: instructions, then the camera's
context), and the summary, rating and explanation are turns of one conversation: each call
repeats the previous call's prompt and answer word for word and adds only its question. Per
window the model reads the scene once, per camera the fixed text once.

The version stored with every analysis is the hand-set `PROMPT_SERIES` plus a hash of the
templates, so an edit that forgets to bump the series still yields a new version (scores from
different prompts are not comparable, and refinement only mixes comparable ones).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

# 3: scene lines without times, explanation naming what to check; 4: a scene description with no
# measured speed is not asked "how fast it moves"; 5: such a description is not summarized or
# explained by the LLM at all: both are its own lines (`QUIET_ACCOUNT`)
PROMPT_SERIES = "lavad-5"

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

CAPTION = "Describe what is happening in this surveillance camera image in one sentence."

SYSTEM = (
    "You review short windows of surveillance camera footage that an anomaly detector flagged. "
    "Each window is described line by line.{context}"
)

CONTEXT = "\nCamera context (what this place is and what is normal here): {text}"

SUMMARY = (
    "Below is a temporal description of the scene, one caption per moment:\n{captions}\n"
    "Please summarize what happened in a few sentences, based on the temporal description above. "
    "Do not include any unnecessary details or descriptions.\nSummary:"
)  # the instruction after the captions, as LAVAD asks: before them, SmolLM2-135M copies the
# caption list instead of summarizing it (measured on Ped2 windows, docs/benchmarks-stage2.md)

SCENE_SUMMARY = (
    "Below is what moves or stands in the window, one line per object or group:\n"
    "{lines}\nPlease summarize what happened in one or two sentences, based on the description "
    "above. Do not include any unnecessary details or descriptions.\nSummary:"
)  # scene descriptions (`vad.stage2.scene`) are one line per object, not per moment: no times
# (~6 tokens a line; a track's start within a 2-s window told the model nothing it used)

SCORE = (
    "If you were a law enforcement agency, how would you rate the scene described, on a scale "
    "from 0 to 1, with 0 representing a standard scene and 1 denoting a scene with suspicious "
    "activities? Answer with only one number {choices}, and no other text.\nAnswer:"
)

EXPLAIN = (
    "In one sentence, explain what in the scene is or is not suspicious, naming the object, "
    "where it is and how fast it moves.\nExplanation:"
)

QUIET_ACCOUNT = "Nothing was measured moving unusually fast or slow: {lines}."
# the summary and the explanation of a quiet scene description (no measured speed: standers and
# walkers at the usual pace), written without the LLM (`quiet_account`). Asked to summarize
# one, SmolLM2-135M invented in 12 of 16 real Ped2 training windows ("a witness who has been
# arrested", "a 5-person group of 2 people"); given a true summary, its explanation lost the
# place and contradicted itself ("not suspicious, but ... is suspicious";
# docs/benchmarks-stage2.md). Here, not in the scene module, so `PROMPT_VERSION` covers it: a
# stored summary's version says which text produced it.


def _digest() -> str:
    text = "\x00".join(
        (CAPTION, SYSTEM, CONTEXT, SUMMARY, SCENE_SUMMARY, SCORE, EXPLAIN, QUIET_ACCOUNT)
    )
    return hashlib.sha1(text.encode()).hexdigest()[:8]


PROMPT_VERSION = f"{PROMPT_SERIES}-{_digest()}"


def format_value(value: float) -> str:
    """How an allowed score is written in prompts and answers: 0, 0.1, ..., 1."""
    return f"{value:g}"


def system_message(context: str | None) -> Message:
    """The fixed instructions, then the camera's context: the prefix every call shares."""
    text = (context or "").strip()
    return {
        "role": "system",
        "content": SYSTEM.format(context=CONTEXT.format(text=text) if text else ""),
    }


def summary_dialogue(captions: Sequence[tuple[float, str]], context: str | None) -> list[Message]:
    """The window's opening: `captions` are (seconds from the window start, cleaned caption) in
    time order."""
    lines = [f"t={t:.1f}s: {c.strip()}" for t, c in captions if c.strip()]
    ask = SUMMARY.format(captions="\n".join(lines) or "(no description)")
    return [system_message(context), {"role": "user", "content": ask}]


def scene_dialogue(lines: Sequence[str], context: str | None) -> list[Message]:
    """The window's opening when it is described by scene sentences rather than captions."""
    listed = [f"- {line.strip()}" for line in lines if line.strip()]
    ask = SCENE_SUMMARY.format(lines="\n".join(listed) or "- (no description)")
    return [system_message(context), {"role": "user", "content": ask}]


def quiet_account(lines: Sequence[str]) -> str:
    """The summary and the explanation of a quiet scene description (no measured speed, as
    `vad.stage2.scene.states_a_speed` tells: standers placed, usual walkers counted), its lines
    word for word in one sentence, held to `SENTENCE_LIMIT` as the LLM's sentences are (a crowded
    view's lines are cut at a word). A quiet flagged window is most likely a false alarm: the
    operator needs exactly what is there, and the lines already say it."""
    said = [" ".join(line.split()).rstrip(".;") for line in lines if line.strip()]
    return closed_sentence(QUIET_ACCOUNT.format(lines="; ".join(said) or "nothing is described"))


def score_question(values: Sequence[float]) -> str:
    return SCORE.format(choices=allowed_values(values))


def allowed_values(values: Sequence[float]) -> str:
    """The allowed answers in few words ("from 0 to 1 in steps of 0.1") when they are evenly
    spaced, else listed: the list of eleven values is ~35 tokens the model would read per
    window; the answer is constrained to them either way (grammar or JSON schema)."""
    ordered = sorted(values)
    steps = {round(b - a, 9) for a, b in zip(ordered, ordered[1:], strict=False)}
    if len(ordered) > 2 and len(steps) == 1:
        low, high, step = (format_value(v) for v in (ordered[0], ordered[-1], steps.pop()))
        return f"from {low} to {high} in steps of {step}"
    return "from this list: [" + ", ".join(format_value(v) for v in values) + "]"


def follow_up(dialogue: list[Message], answer: str, question: str) -> list[Message]:
    """The dialogue with the model's `answer` to its last question and the next `question`:
    the previous call's prompt and answer verbatim, so the model re-reads only the question."""
    return [
        *dialogue,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": question},
    ]


def plain_text(dialogue: Sequence[Message]) -> str:
    """The dialogue as one text, for a model without a chat template."""
    return "\n\n".join(m["content"] for m in dialogue)


# where the explanation's one sentence ends: generation stops there (left out by the backend)
# instead of running on to the token cap and being cut afterwards; "4.7x" or "1.9 s" hold a
# full stop not followed by a space and do not stop it
SENTENCE_STOPS = (". ", ".\n")
# characters of a sentence stage 2 stores: the LLM's explanation, or a quiet scene's account
SENTENCE_LIMIT = 300


def one_sentence(text: str, limit: int = SENTENCE_LIMIT) -> str:
    """The explanation as generated up to `SENTENCE_STOPS`: its first sentence, closed with the
    full stop the stop string took away."""
    return closed_sentence(first_sentence(text, limit), limit)


def first_sentence(text: str, limit: int = SENTENCE_LIMIT) -> str:
    """The explanation is one sentence: cut at the first sentence end (or the limit)."""
    text = " ".join(text.split())
    for i, ch in enumerate(text):
        if ch in ".!?" and (i + 1 == len(text) or text[i + 1] == " "):
            return _within(text[: i + 1], limit)
    return _within(text, limit)


def closed_sentence(text: str, limit: int = SENTENCE_LIMIT) -> str:
    """`text` as a stored sentence: at most `limit` characters, ending with its full stop (or
    ! ?); a longer one is cut at the last word boundary that leaves room for the full stop."""
    if not text or (text[-1] in ".!?" and len(text) <= limit):
        return text
    return _within(text, limit - 1).rstrip(" ,;:") + "."


def _within(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its whole words that fit (cut hard only
    when its first word alone is longer)."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rfind(" ")  # a space just past the limit still ends a whole word
    return text[:cut] if cut > 0 else text[:limit]
