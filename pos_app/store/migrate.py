"""Apply the till's migrations (alembic, driven from code: no alembic.ini to ship or lose).

Runs on a plain sqlite3 connection in a worker thread at start-up, before the async engine opens, so a
half-migrated store is never served.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

VERSION_TABLE = "till_alembic_version"
SCRIPT_LOCATION = Path(__file__).with_name("migrations")


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def sync_engine(database_path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{database_path}")


def upgrade(database_path: Path, revision: str = "head") -> None:
    database_path.parent.mkdir(parents=True, exist_ok=True)
    engine = sync_engine(database_path)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)
    finally:
        engine.dispose()


def current_revision(database_path: Path) -> str | None:
    engine = sync_engine(database_path)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        engine.dispose()
