"""Every `VAD_*` variable the docs name is still a setting and still parses.

The settings sections live beside their owners (`service/settings.py` composes them); moving a
section must not rename a variable operators already set (docs/operations.md lists them).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "compose.yaml"]
# Named in the docs but not settings: Compose's image names and the test suite's model cache.
NOT_SETTINGS = {"VAD_IMAGE", "VAD_GPU_IMAGE", "VAD_TEST_MODEL_CACHE"}
VARIABLE = re.compile(r"\bVAD_[A-Z0-9]+(?:_[A-Z0-9]+)*(?:__[A-Z0-9]+(?:_[A-Z0-9]+)*)?\b(?!_)")


def documented_variables() -> list[str]:
    found = set()
    for document in DOCUMENTS:
        found.update(VARIABLE.findall(document.read_text()))
    return sorted(found - NOT_SETTINGS)


def _default(name: str):
    """The field's default, or a KeyError naming the variable that is no longer a setting."""
    section, _, field = name.removeprefix("VAD_").lower().partition("__")
    top = Settings.model_fields[section]
    if not field:
        return top.get_default(call_default_factory=True)
    return (
        type(top.get_default(call_default_factory=True))
        .model_fields[field]
        .get_default(call_default_factory=True)
    )


def _as_text(value) -> str:
    if isinstance(value, str | Path):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(list(value) if isinstance(value, tuple | list) else value)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("VAD_"):
            monkeypatch.delenv(name)


def test_the_docs_name_settings() -> None:
    assert len(documented_variables()) > 40


@pytest.mark.parametrize("name", documented_variables())
def test_documented_variable_is_a_setting_and_parses(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        default = _default(name)
    except KeyError:
        pytest.fail(f"{name} is documented but no longer a setting")
    if default is None:
        return
    monkeypatch.setenv(name, _as_text(default))
    Settings(_env_file=None)
