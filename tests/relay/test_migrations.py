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


async def test_a_database_made_by_the_previous_head_keeps_its_rows_when_c2b_arrives(tmp_path: Path) -> None:
    """0001 (before C2B) to head: every till, payment, result and raw callback is still there, unchanged;
    0003 adds `unverified` to results and payments, false for every row decided before it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0001")
    names = ("till", "payment", "stk_result", "raw_callback", "feed_entry", "selftest")
    fill = [
        "INSERT INTO till (id, name, key_hash, token, created_at) "
        "VALUES (1, 'front', 'h', 'abc', '2026-11-30 08:00:00')",
        "INSERT INTO payment (id, till_id, order_id, checkout_request_id, amount_kes, phone, status, reason, "
        "registered_at, updated_at) VALUES (1, 1, 'o', 'ws_CO_OLD', 10, '254708374149', 'completed', '', "
        "'2026-11-30 08:00:00', '2026-11-30 08:00:01')",
        "INSERT INTO stk_result (checkout_request_id, raw_callback_id, merchant_request_id, result_code, "
        "result_desc, receipt, received_at, duplicates, contradictions) "
        "VALUES ('ws_CO_OLD', 1, 'm', '0', 'ok', 'TKU5550001', '2026-11-30 08:00:01', 0, 0)",
        "INSERT INTO raw_callback (id, received_at, path, source_ip, headers, body, status) VALUES (1, "
        "'2026-11-30 08:00:01', '/p', '127.0.0.1', '{}', x'7b7d', 'applied')",
        "INSERT INTO feed_entry (seq, till_id, payment_id, kind, created_at) VALUES (1, 1, 1, 'result', "
        "'2026-11-30 08:00:01')",
        "INSERT INTO selftest (id, checkout_request_id, raw_callback_id, received_at) "
        "VALUES (1, 'ws_CO_SELFTEST_1', 1, '2026-11-30 08:00:01')",
    ]
    db = Database(url)
    try:

        def write(connection: sa.Connection) -> None:
            for statement in fill:
                connection.execute(sa.text(statement))

        def dump(connection: sa.Connection) -> dict[str, list[tuple[object, ...]]]:
            return {
                name: [tuple(row) for row in connection.execute(sa.text(f"SELECT * FROM {name}"))]
                for name in names
            }

        await db.write(write)
        before = await db.read(dump)
        await db.dispose()
        await upgrade(url)
        assert await current_revision(url) == head_revision()
        after = await db.read(dump)
    finally:
        await db.dispose()
    verified = {name: [(*row, 0) for row in before[name]] for name in ("payment", "stk_result")}
    assert after == before | verified
    assert all(len(rows) == 1 for rows in after.values())
    assert {"shop", "shop_till", "c2b_payment", "claim_event"} <= await tables(url)
