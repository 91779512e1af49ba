"""Progress bars for the long CLI commands (rich, which typer already brings).

Drawn on stderr and only on a terminal: scripts, logs and tests that read a command's output see
exactly the lines they saw before, and a bar never lands in a pipe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


def progress_bar(console: Console | None = None, enabled: bool = True) -> Progress:
    """A bar of the house style; disabled (draws nothing) unless `enabled` and stderr (or
    `console`) is a terminal."""
    console = console or Console(stderr=True)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
        transient=True,
    )


def track_clips(
    clips: Iterable[Iterable[np.ndarray]],
    bar: Progress,
    task: TaskID,
    what: str,
    then: str,
) -> Iterator[Iterator[np.ndarray]]:
    """Pass `clips` through unchanged, advancing `task` by one per frame read and naming the clip
    being read (`what` 1, 2, ...); once the last clip is read the task says `then` (the work that
    follows the reading, e.g. fitting)."""
    for number, clip in enumerate(clips, start=1):
        bar.update(task, description=f"{what} {number}")
        yield _count(clip, bar, task)
    bar.update(task, description=then)


def _count(clip: Iterable[np.ndarray], bar: Progress, task: TaskID) -> Iterator[np.ndarray]:
    for frame in clip:
        bar.advance(task)
        yield frame
