"""UCA (UCF-Crime Annotation, CVPR 2024) grounding annotations.

Format: `{"<video>": {"duration": s, "timestamps": [[start, end], ...], "sentences": [...]}}`,
times in seconds, one sentence per span, spans may overlap. Loading validates every entry and
names each problem with its file, video and sentence index, so a broken annotation is found, not
silently trained on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("Train", "Val", "Test")
TOLERANCE = 0.5  # seconds a span may run past the stated duration (annotation rounding)


class UcaError(ValueError):
    """Malformed annotations; `problems` lists every one found."""

    def __init__(self, problems: list[str]):
        shown = "\n".join(problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} malformed UCA entries:\n{shown}{more}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Query:
    """One sentence and the span [start, end] it describes."""

    video: str
    index: int
    sentence: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Video:
    name: str
    duration: float
    queries: tuple[Query, ...]


def split_file(folder: Path, split: str) -> Path:
    return Path(folder) / f"UCFCrime_{split}.json"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _span_problems(where: str, span: object, duration: float) -> list[str]:
    if not (isinstance(span, list | tuple) and len(span) == 2 and all(map(_number, span))):
        return [f"{where}: span {span!r} is not [start, end] in seconds"]
    start, end = span
    if start < 0 or end < start:
        return [f"{where}: span [{start}, {end}] is negative or reversed"]
    if end > duration + TOLERANCE:
        return [f"{where}: span ends at {end} s, after the video's {duration} s"]
    return []


def _video(source: str, name: str, entry: object, problems: list[str]) -> Video | None:
    where = f"{source}:{name}"
    if not isinstance(entry, dict):
        problems.append(f"{where}: entry is {type(entry).__name__}, not an object")
        return None
    duration, spans, sentences = (entry.get(k) for k in ("duration", "timestamps", "sentences"))
    if not _number(duration) or duration <= 0:
        problems.append(f"{where}: duration {duration!r} is not a positive number")
        return None
    if not isinstance(spans, list) or not isinstance(sentences, list):
        problems.append(f"{where}: timestamps and sentences must be lists")
        return None
    if len(spans) != len(sentences):
        problems.append(f"{where}: {len(spans)} timestamps but {len(sentences)} sentences")
        return None
    queries, before = [], len(problems)
    for i, (span, text) in enumerate(zip(spans, sentences, strict=True)):
        problems.extend(_span_problems(f"{where}[{i}]", span, duration))
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}[{i}]: sentence {text!r} is empty or not text")
        if len(problems) == before:
            queries.append(Query(name, i, text.strip(), float(span[0]), float(span[1])))
    return Video(name, float(duration), tuple(queries))


def parse(document: object, source: str = "<json>") -> list[Video]:
    """Validated videos of one UCA document; raises UcaError listing every problem."""
    if not isinstance(document, dict):
        raise UcaError([f"{source}: top level is {type(document).__name__}, not an object"])
    problems: list[str] = []
    videos = [_video(source, str(name), entry, problems) for name, entry in document.items()]
    if problems:
        raise UcaError(problems)
    return [v for v in videos if v is not None]


def load(path: Path) -> list[Video]:
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UcaError([f"{path}: cannot read JSON ({error})"]) from error
    return parse(document, path.name)


def load_splits(folder: Path, splits: tuple[str, ...] = SPLITS) -> dict[str, list[Video]]:
    """Each present split's videos; a video named in two splits is a problem too."""
    loaded = {s: load(split_file(folder, s)) for s in splits if split_file(folder, s).exists()}
    if not loaded:
        raise UcaError([f"{folder}: no UCFCrime_{{{','.join(splits)}}}.json files"])
    seen: dict[str, str] = {}
    problems = []
    for split, videos in loaded.items():
        for video in videos:
            if video.name in seen:
                problems.append(f"{video.name}: in both {seen[video.name]} and {split}")
            seen[video.name] = split
    if problems:
        raise UcaError(problems)
    return loaded


def counts(loaded: dict[str, list[Video]]) -> tuple[int, int]:
    """(videos, sentences) over all splits."""
    videos = [v for split in loaded.values() for v in split]
    return len(videos), sum(len(v.queries) for v in videos)
