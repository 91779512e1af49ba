"""The database's connection setting (flat: `VAD_DATABASE_URL`), and where the secrets key is
(`data_dir`, `security.key_file`; `db/secrets` reads it).

Mixins of the one `Settings` object (`service/settings.py`), so the variable names stay flat.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from vad.address_policy import SecurityConfig


class DatabaseSettings(BaseModel):
    """Where PostgreSQL is."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of PostgreSQL; unset = the embedded server under data_dir.",
    )


class SecretsSettings(BaseModel):
    """The installation's state folder and the security section: together they say where the
    secrets key is (`key_file`), which every process that opens stored credentials reads."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(
        Path("var"), description="Where the embedded stack keeps PostgreSQL, Redis and logs."
    )
    security: SecurityConfig = Field(default_factory=SecurityConfig)

    def key_file(self) -> Path:
        """The secrets key (security.key_file, else <data_dir>/secret.key)."""
        return (self.security.key_file or self.data_dir / "secret.key").expanduser().resolve()
