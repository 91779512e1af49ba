"""The architecture's rules, checked on the whole tree so CI enforces them: the layer contracts
in pyproject.toml ([tool.importlinter], run by import-linter), and no deep-learning framework
loaded by importing any runtime module (workers, API, CLI and the core run without the `export`
extra)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.requirements import missing

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vad", "frames", "webhooks", "ingest", "feedback", "workers", "db", "api", "service")
HEAVY = ("torch", "transformers", "ultralytics", "tensorflow")
# Modules whose whole job needs torch: building a network to export it to ONNX. Nothing on the
# runtime path may import them at module level (the walk below would catch it through them).
EXPORT_ONLY = {"vad.encoders.mobilenet"}


def _python(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_import_contracts_hold() -> None:
    """`lint-imports` over pyproject.toml's contracts; the output names each broken import."""
    try:
        import importlinter  # noqa: F401
    except ImportError:
        missing("import-linter (the `dev` extra) checks the layer contracts")
    done = _python(
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True, no_logo=True))"
    )
    assert done.returncode == 0, done.stdout + done.stderr


WALK = f"""
import importlib, json, pkgutil, sys
heavy, skip, culprits = {HEAVY!r}, {sorted(EXPORT_ONLY)!r}, {{}}
for package in {PACKAGES!r}:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if info.name in skip:
            continue
        before = set(m for m in heavy if m in sys.modules)
        importlib.import_module(info.name)
        new = [m for m in heavy if m in sys.modules and m not in before]
        if new:
            culprits[info.name] = new
print(json.dumps(culprits))
"""


def test_no_runtime_module_imports_a_deep_learning_framework_at_import_time() -> None:
    """Every module of the six packages is imported in one fresh interpreter; the first one
    that brings torch, transformers, ultralytics or tensorflow in is named."""
    done = _python(WALK)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}
