"""Schema migrations: on an empty database, on an existing one, and (PostgreSQL) several starts at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import sqlalchemy as sa
from alembic import command

from relay.db import Database
from relay.migrate import alembic_config, current_revision, head_revision, upgrade
from relay.models import RelayModel
from tests.relay.conftest import auth, registration
from tests.support.relay_fixtures import RelayFactory


async def tables(url: str) -> set[str]:
    db = Database(url)
    try:
        return set(await db.read(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await db.dispose()


async def test_an_empty_sqlite_database_is_migrated_to_the_newest_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'relay.db'}"
    await upgrade(url)
    assert await current_revision(url) == head_revision()
    assert await tables(url) == set(RelayModel.metadata.tables) | {"alembic_version"}


async def test_migrating_an_existing_database_again_keeps_its_data(relay_factory: RelayFactory) -> None:
    relay = await relay_factory()
    key, _ = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_KEEP", 10), headers=auth(key))
    await upgrade(relay.database_url)
    await relay.restart()  # migrates again on start
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        status = await client.get("/api/v1/payments/o/status", headers=auth(key))
    assert status.json()["checkout_request_id"] == "ws_CO_KEEP"


async def test_the_migration_matches_the_models(tmp_path: Path) -> None:
    """Autogenerate finds nothing to do: the models and the migration files describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    await upgrade(url)
    db = Database(url)
    try:
        diff = await db.read(lambda c: compare_metadata(MigrationContext.configure(c), RelayModel.metadata))
    finally:
        await db.dispose()
    assert diff == []


async def test_downgrade_to_nothing_and_back_up_works(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    await upgrade(url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    assert await tables(url) == {"alembic_version"}
    await upgrade(url)
    assert await current_revision(url) == head_revision()
