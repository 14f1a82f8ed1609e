"""Apply the alembic migrations in `relay/migrations`: by `mpesa-relay migrate` and on every start.

Idempotent (at head it does nothing). On PostgreSQL the upgrade runs under a transaction-level advisory
lock, so several relay instances starting together queue up instead of racing to create tables; the
next one in sees the new `alembic_version` and does nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from relay.db import SQLITE_BUSY_TIMEOUT_MS, normalise_url, sqlite_path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed 64-bit number, the same in every instance: "the relay's migration lock".
ADVISORY_LOCK_KEY = 0x6D70657361  # "mpesa"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url:
        config.set_main_option("sqlalchemy.url", str(normalise_url(database_url)).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found in {MIGRATIONS_DIR}: the relay's package is incomplete")
    return head


def _upgrade(connection: Connection, config: Config) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _wal_from_the_start(path: Path) -> None:
    """Put the file in WAL mode before anything else opens it. WAL is a property of the file, and changing
    to it takes an exclusive lock that SQLite refuses at once ("database is locked", no busy wait) while
    another connection reads: the relay's connections, each setting WAL as it opened, met that now and
    then when a second process (or a test) opened the fresh file beside a running relay."""
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute("PRAGMA journal_mode=WAL").fetchall()
    finally:
        connection.close()


async def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema (creates the SQLite folder and file when needed)."""
    url = normalise_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(_wal_from_the_start, path)
    engine = create_async_engine(url)
    try:
        config = alembic_config(database_url)
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, config)
    finally:
        await engine.dispose()


async def current_revision(database_url: str) -> str | None:
    engine = create_async_engine(normalise_url(database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()
