"""The results file of a bench run over data sets: a header saying when and where it was
measured (the docs cite both beside every figure), then one entry per set, written after each
set so a long run that is stopped keeps what it finished. Used by bench/feedback.py and
bench/feedback_heldout.py."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path


def header() -> dict:
    """When (UTC, to the second) and on what machine a result was measured."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.system()}",
    }


def collect_sets(names: Iterable[str], run: Callable[[str], dict], out: Path | None) -> dict:
    """The header and `run(name)` of each set in `names`; `out` (when given) is rewritten with
    what is finished after every set."""
    results = {**header(), "sets": []}
    for name in names:
        results["sets"].append(run(name))
        if out:
            out.write_text(json.dumps(results, indent=2))
    return results
