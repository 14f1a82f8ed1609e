"""Alembic environment for the relay: sqlite+aiosqlite and postgresql+asyncpg.

`relay.migrate.upgrade()` hands over an open connection (config.attributes["connection"]) so
migrations run inside the relay's own event loop and, on PostgreSQL, under its advisory lock. Run from
the alembic command line, this file opens its own async engine from `sqlalchemy.url` or DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from relay.db import normalise_url
from relay.models import RelayModel

config = context.config
target_metadata = RelayModel.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")


async def _run_with_own_engine() -> None:
    engine = create_async_engine(normalise_url(_url()))
    async with engine.begin() as connection:
        await connection.run_sync(_configure_and_run)
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=str(normalise_url(_url())), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
    else:
        asyncio.run(_run_with_own_engine())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
