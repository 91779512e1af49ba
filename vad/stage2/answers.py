"""Strict parsing of the LLM's rating and gap filling by interpolation.

An answer counts only if it is exactly one allowed value (bare, in brackets as LAVAD asks, or as
`{"score": x}` from a JSON-schema endpoint). Anything else is marked with the reason and left
empty; gaps are filled only from parsed neighbours, never invented.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_BARE = re.compile(rf"^\[?\s*({_NUMBER})\s*\]?\.?$")
_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class ParsedScore:
    value: float | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def parse_score(answer: str | None, allowed: Sequence[float]) -> ParsedScore:
    """The allowed value the answer names, or None with why it was rejected."""
    text = (answer or "").strip().strip("`").strip()
    if not text:
        return ParsedScore(None, "empty answer")
    number = _from_json(text)
    if number is None:
        match = _BARE.match(text)
        if match is None:
            return ParsedScore(None, f"not a single number: {text[:80]!r}")
        number = float(match.group(1))
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        return ParsedScore(None, f"out of range: {number:g}")
    for value in allowed:
        if abs(number - value) <= _TOLERANCE:
            return ParsedScore(float(value))
    return ParsedScore(None, f"not an allowed value: {number:g}")


def _from_json(text: str) -> float | None:
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or set(doc) != {"score"}:
        return None
    value = doc["score"]
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(_NUMBER, value.strip()):
        return float(value)
    return None


def interpolate(times: Sequence[float], values: Sequence[float | None]) -> list[float | None]:
    """Fill None entries from their parsed neighbours in time: linear between the nearest earlier
    and later parsed values, the nearest one at either end, None when nothing parsed."""
    known = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
    if not known:
        return list(values)
    out: list[float | None] = []
    for t, v in zip(times, values, strict=True):
        out.append(v if v is not None else _between(t, known))
    return out


def _between(t: float, known: list[tuple[float, float]]) -> float:
    before = [(kt, kv) for kt, kv in known if kt <= t]
    after = [(kt, kv) for kt, kv in known if kt >= t]
    if not before:
        return after[0][1]
    if not after:
        return before[-1][1]
    (t0, v0), (t1, v1) = before[-1], after[0]
    if t1 == t0:
        return (v0 + v1) / 2
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
