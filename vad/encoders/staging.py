"""The one way a model folder is written: into a staging folder beside it, swapped in whole.

`vad models pull` (the pinned files kept from a package) and every `vad models export` write
their folder through `staged_folder`, so a failed or interrupted pull or export never leaves a
half model where the loaders look, and the previous folder stays in place until the new one is
complete.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """An empty `<target>.partial` folder to write into; when the block ends without an error it
    replaces `target`, otherwise it is removed and `target` is left as it was."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, target: Path) -> None:
    """Swap the finished folder in by renames (the old one aside first, removed after)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        staging.rename(target)
        return
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
