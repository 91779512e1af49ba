"""The CLI's progress bars: frames pass through untouched and are counted; nothing is drawn when
the output is not a terminal (scripts and logs keep their lines)."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from service.progress import progress_bar, track_clips


def _clips() -> list[list[np.ndarray]]:
    return [[np.full((2, 2), c * 10 + i, np.uint8) for i in range(n)] for c, n in enumerate((3, 2))]


def test_track_clips_counts_frames_and_passes_them_through() -> None:
    out = io.StringIO()
    bar = progress_bar(Console(file=out, force_terminal=True, width=100))
    assert not bar.disable
    with bar:
        task = bar.add_task("learning", total=None)
        seen = [
            [int(f[0, 0]) for f in clip]
            for clip in track_clips(_clips(), bar, task, "clip", "fitting")
        ]
        assert seen == [[0, 1, 2], [10, 11]]
        assert bar.tasks[0].completed == 5 and bar.tasks[0].description == "fitting"
    assert "fitting" in out.getvalue() or "clip" in out.getvalue()  # drawn on a terminal


def test_nothing_is_drawn_off_a_terminal() -> None:
    out = io.StringIO()
    bar = progress_bar(Console(file=out, force_terminal=False))
    assert bar.disable
    with bar:
        task = bar.add_task("learning", total=None)
        assert sum(len(list(clip)) for clip in track_clips(_clips(), bar, task, "clip", "fit")) == 5
    assert out.getvalue() == ""
    assert progress_bar(Console(file=out, force_terminal=True), enabled=False).disable
