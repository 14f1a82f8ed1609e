"""Apply the till's migrations (alembic, driven from code: no alembic.ini to ship or lose).

Runs on a plain sqlite3 connection in a worker thread at start-up, before the async engine opens, so a
half-migrated store is never served.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config

VERSION_TABLE = "till_alembic_version"
#: The newest revision in migrations/versions/ (tests/engine/test_store_migrations.py keeps this honest).
HEAD = "0007"
SCRIPT_LOCATION = Path(__file__).with_name("migrations")


def _alembic_config(connection: sa.Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def sync_engine(database_path: Path) -> sa.Engine:
    import sqlalchemy as sa

    return sa.create_engine(f"sqlite:///{database_path}")


def _stored_revision(database_path: Path) -> str | None:
    """The store's revision read with the stdlib driver (no alembic import on every start)."""
    import sqlite3

    if not database_path.exists():
        return None
    try:
        with sqlite3.connect(database_path) as connection:
            row = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def upgrade(database_path: Path, revision: str = "head") -> None:
    database_path.parent.mkdir(parents=True, exist_ok=True)
    if revision == "head" and _stored_revision(database_path) == HEAD:
        return
    from alembic import command

    engine = sync_engine(database_path)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)
    finally:
        engine.dispose()


def current_revision(database_path: Path) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = sync_engine(database_path)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        engine.dispose()
