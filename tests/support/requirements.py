"""Missing test components: a skip on a developer's machine, a failure in CI.

CI (`CI=true`, set by the CI runner) installs every component `.ci/run` promises, so a missing one
there is a broken setup, never a reason to pass with fewer tests.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip locally, fail in CI, naming what is missing. Works in a test, a fixture or at a
    module's top (then the whole module is skipped, instead of erroring at collection)."""
    if in_ci():
        pytest.fail(f"CI must provide this test component: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
