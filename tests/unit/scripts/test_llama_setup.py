"""scripts/llama-setup.sh on a machine that has never built the wheel.

Why: the cache lookup once ended the script (`ls` of a missing folder under `set -e -o
pipefail`) before the build started, so CI failed on every fresh machine with rc 2 and no
message. A stand-in pip writes the wheel the real build would, so no compiler runs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "llama-setup.sh"

FAKE_PIP = """#!/usr/bin/env bash
while [ $# -gt 0 ]; do
  if [ "$1" = "--wheel-dir" ]; then
    mkdir -p "$2" && touch "$2/llama_cpp_python-0.3.36-cp3-none-any.whl"
  fi
  shift
done
"""


def _run(cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAD_WHEEL_CACHE": str(cache), "VAD_LLAMA_VERSION": "0.3.36"}
    return subprocess.run(
        ["bash", str(SCRIPT), "--wheel"], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_a_fresh_machine_builds_then_reuses_the_wheel(tmp_path):
    pip = tmp_path / ".venv" / "bin" / "pip"
    pip.parent.mkdir(parents=True)
    pip.write_text(FAKE_PIP)
    pip.chmod(0o755)
    cache = tmp_path / "cache" / "wheels"  # does not exist yet
    wheel = cache / "llama_cpp_python-0.3.36-cp3-none-any.whl"

    built = _run(tmp_path, cache)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == str(wheel)
    assert "building llama-cpp-python 0.3.36" in built.stderr

    pip.unlink()  # a second run must not build again
    reused = _run(tmp_path, cache)
    assert reused.returncode == 0, reused.stderr
    assert reused.stdout.strip() == str(wheel)
    assert "building" not in reused.stderr
