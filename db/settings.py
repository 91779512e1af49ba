"""The database's connection setting (flat: `VAD_DATABASE_URL`).

A mixin of the one `Settings` object (`service/settings.py`), so the variable name stays flat.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DatabaseSettings(BaseModel):
    """Where PostgreSQL is."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of PostgreSQL; unset = the embedded server under data_dir.",
    )
