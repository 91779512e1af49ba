"""Every bench script runs as the docs write it, `python bench/NAME.py`.

Python puts the script's own folder first on `sys.path`, and bench/ holds scripts named like the
project's packages (api.py, feedback.py, webhooks.py): a script importing the project before it
puts the repository root first imports those scripts instead ("'api' is not a package").
"""

from __future__ import annotations

import ast
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
