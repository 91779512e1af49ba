"""Every bench script runs as the docs write it, `python bench/NAME.py`, and answers `--help`
with its usage instead of running (a bench run takes minutes and may read test labels).

Python puts the script's own folder first on `sys.path`, and bench/ holds scripts named like the
project's packages (api.py, feedback.py, webhooks.py): a script importing the project before it
puts the repository root first imports those scripts instead ("'api' is not a package").
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
PROJECT = {"api", "db", "feedback", "frames", "ingest", "service", "vad", "webhooks", "workers"}
PROJECT |= {"tests", "bench"}
SIBLING_BOOTSTRAP = {"harness"}  # bench/harness.py puts the root first when imported


def _imports_project(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom) and node.module:
        return node.module.split(".")[0] in PROJECT
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] in PROJECT for alias in node.names)
    return False


def _puts_root_first(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom) and node.module in SIBLING_BOOTSTRAP:
        return True
    call = node.value if isinstance(node, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and ast.unparse(call.func) == "sys.path.insert"
        and ast.unparse(call.args[0]) == "0"
    )


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_root_is_first_on_the_path_before_project_imports(script: Path) -> None:
    for node in ast.parse(script.read_text()).body:
        if _puts_root_first(node):
            return
        assert not _imports_project(node), (
            f"{script.name}:{node.lineno} imports the project before "
            "`sys.path.insert(0, str(ROOT))`; run as `python bench/...` it would import bench/'s "
            "scripts of the same name"
        )


def _is_script(path: Path) -> bool:
    """A bench file run as a program (bench/harness.py and bench/results.py are libraries)."""
    return 'if __name__ == "__main__"' in path.read_text()


@pytest.mark.integration  # ~1 s of imports per script: too slow for the unit run
@pytest.mark.parametrize(
    "script", [p for p in sorted(BENCH.glob("*.py")) if _is_script(p)], ids=lambda p: p.name
)
def test_every_bench_script_answers_help_without_running(script: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"usage: {script.name}"), done.stdout[:500]
    assert not list(tmp_path.iterdir()), "--help wrote files"
