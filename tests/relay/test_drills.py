"""Crash and fault drills with real processes: `mpesa-relay serve` under callback load from a few senders
(real HTTP on loopback) is SIGKILLed, loses its PostgreSQL connections, or finds its SQLite file read-only.

What must hold: every callback the relay acknowledged (HTTP 200) is stored and applied after a restart,
none is applied twice, and a callback the relay could not store is refused (non-2xx), never acknowledged.
Select them with `-m drill`; they run in the normal suite, each with a load window of about a second.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from relay.db import Database
from relay.models import payment_table
from tests.relay.drill_support import Load, RelayProcess, prepare, stored_results

pytestmark = pytest.mark.drill


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"


@pytest.fixture
async def processes() -> AsyncIterator[list[RelayProcess]]:
    started: list[RelayProcess] = []
    yield started
    for process in started:
        process.stop()


async def completed_ids(database_url: str) -> set[str]:
    paid = sa.select(payment_table.c.checkout_request_id).where(payment_table.c.status == "completed")
    db = Database(database_url)
    try:
        return set(await db.read(lambda c: c.execute(paid).scalars().all()))
    finally:
        await db.dispose()


async def kill_under_load(database_url: str, tmp_path: Path, processes: list[RelayProcess]) -> None:
    till, ids = await prepare(database_url, payments=6_000)
    relay = RelayProcess(database_url, tmp_path)
    processes.append(relay)
    relay.start()
    await relay.wait_ready()
    load = Load(relay.base_url, till.callback_path, ids)
    load.start()
    kills = 1
    for _ in range(kills):
        await load.until_acknowledged(random.randint(30, 200))
        await asyncio.sleep(random.uniform(0, 0.05))  # anywhere in a commit, not only between two
        relay.kill()
        relay.start()
        await relay.wait_ready()
        await load.until_acknowledged(50)
    await load.stop()
    relay.stop()

    results, raws = await stored_results(database_url)
    acknowledged = set(load.acknowledged)
    lost = acknowledged - set(results)
    twice = {cid for cid, count in results.items() if count > 1}
    applied_twice = {cid for cid, statuses in raws.items() if statuses.count("applied") > 1}
    not_completed = acknowledged - await completed_ids(database_url)
    assert len(acknowledged) >= kills * 50 + 30, load.refused
    assert (lost, twice, applied_twice, not_completed) == (set(), set(), set(), set()), relay.log()
    assert relay.starts == kills + 1


async def test_sigkill_under_load_on_sqlite_loses_no_acknowledged_callback(
    sqlite_url: str, tmp_path: Path, processes: list[RelayProcess]
) -> None:
    await kill_under_load(sqlite_url, tmp_path, processes)


@pytest.mark.postgres
async def test_sigkill_under_load_on_postgres_loses_no_acknowledged_callback(
    pg_url: str, tmp_path: Path, processes: list[RelayProcess]
) -> None:
    await kill_under_load(pg_url, tmp_path, processes)


@pytest.mark.postgres
async def test_postgres_connections_cut_while_serving_refuse_callbacks_and_intake_resumes(
    pg_url: str, tmp_path: Path, processes: list[RelayProcess]
) -> None:
    till, ids = await prepare(pg_url, payments=6_000)
    relay = RelayProcess(pg_url, tmp_path)
    processes.append(relay)
    relay.start()
    await relay.wait_ready()
    load = Load(relay.base_url, till.callback_path, ids)
    load.start()
    name = pg_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        cut = 0
        for _ in range(3):
            await load.until_acknowledged(100)
            cut += len(
                await admin.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
            )
        await load.until_acknowledged(100)  # intake resumed by itself
    finally:
        await load.stop()
        await admin.close()
    relay.stop()
    assert cut >= 3
    results, raws = await stored_results(pg_url)
    acknowledged = set(load.acknowledged)
    assert {cid: raws.get(cid) for cid in acknowledged - set(results)} == {}
    assert {cid for cid, count in results.items() if count > 1} == set()
    assert acknowledged - await completed_ids(pg_url) == set(), [
        raws[cid] for cid in acknowledged - await completed_ids(pg_url)
    ]
