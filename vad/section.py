"""The base of every settings section: frozen, unknown fields rejected.

A section is one `VAD_<SECTION>__<FIELD>` namespace of the one `Settings` object (composed in
`service/settings.py`); each section class lives beside the code that reads it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A frozen settings section: a typo in a variable name is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
