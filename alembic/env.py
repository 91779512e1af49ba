"""Alembic environment: migrations run online against the configured URL."""

from __future__ import annotations

from sqlalchemy import create_engine, pool, text

import db.api_models  # noqa: F401 - registers the API tables on Base.metadata
from alembic import context
from db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Serialize concurrent `upgrade head` calls from processes starting together.
        connection.execute(text("SELECT pg_advisory_lock(727274)"))
        connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        connection.execute(text("SELECT pg_advisory_unlock(727274)"))
        connection.commit()


run_migrations_online()
