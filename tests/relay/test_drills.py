"""Crash and fault drills with real processes: `mpesa-relay serve` under callback load from a few senders
(real HTTP on loopback) is SIGKILLed, loses its PostgreSQL connections, or finds its SQLite file read-only.

What must hold: every callback the relay acknowledged (HTTP 200) is stored and applied after a restart,
none is applied twice, and a callback the relay could not store is refused (non-2xx), never acknowledged.
Select them with `-m drill`; they run in the normal suite, each with a load window of about a second.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from relay.db import Database
from relay.models import payment_table
from relay.service import Relay
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import auth, registration
from tests.relay.drill_support import Load, RelayProcess, prepare, stored_results
from tests.support.relay_fixtures import RelayFactory

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
        await load.until_acknowledged(random.randint(20, 100))
        await asyncio.sleep(random.uniform(0, 0.05))  # anywhere in a commit, not only between two
        relay.kill()
        relay.start()
        await relay.wait_ready()
        await load.until_acknowledged(30)
    await load.stop()
    relay.stop()

    results, raws = await stored_results(database_url)
    acknowledged = set(load.acknowledged)
    lost = acknowledged - set(results)
    twice = {cid for cid, count in results.items() if count > 1}
    applied_twice = {cid for cid, statuses in raws.items() if statuses.count("applied") > 1}
    not_completed = acknowledged - await completed_ids(database_url)
    assert len(acknowledged) >= kills * 30 + 20, load.refused
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
            await load.until_acknowledged(30)
            cut += len(
                await admin.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
            )
        await load.until_acknowledged(30)  # intake resumed by itself
    finally:
        await load.stop()
        await admin.close()
    relay.stop()
    assert cut >= 3
    results, raws = await stored_results(pg_url)
    acknowledged = set(load.acknowledged)
    # A callback set aside as failed is kept raw, unparsed (no CheckoutRequestID): none may be.
    assert raws.get(None, []) == [], relay.log()  # type: ignore[call-overload]
    assert {cid: raws.get(cid) for cid in acknowledged - set(results)} == {}
    assert {cid for cid, count in results.items() if count > 1} == set()
    assert acknowledged - await completed_ids(pg_url) == set(), [
        raws[cid] for cid in acknowledged - await completed_ids(pg_url)
    ]


def break_storage(service: Relay, pragma: str) -> None:
    """Run a PRAGMA on the relay's own SQLite writer connection (its pool holds one), outside any
    transaction: `query_only` makes the database read-only, `max_page_count` its disk full."""
    engine = service.database._sync_writer
    assert engine is not None
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if pragma == "full":
            (pages,) = cursor.execute("PRAGMA page_count").fetchone()
            pragma = f"max_page_count = {pages}"
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("breakage", "repair", "cause"),
    [
        ("query_only = ON", "query_only = OFF", "readonly"),
        ("full", "max_page_count = 1073741823", "full"),
    ],
    ids=["read-only", "disk-full"],
)
async def test_storage_that_refuses_writes_refuses_callbacks_says_so_and_recovers(
    relay_factory: RelayFactory, caplog: pytest.LogCaptureFixture, breakage: str, repair: str, cause: str
) -> None:
    relay_server = await relay_factory(admin_token="admin")
    key, path = await relay_server.create_till("front")
    service = relay_server.service
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=10) as client:
        for n in range(30):  # some pages in use, so the last one is full soon
            await client.post(
                "/api/v1/payments", json=registration(f"o{n}", f"ws_CO_{n}", 10), headers=auth(key)
            )
        break_storage(service, breakage)
        # Bodies big enough to need new pages, each its own payment's paid result.
        bodies = [
            stk_callback_bytes(f"ws_CO_{n}", result_code=0, amount=10) + b" " * 20_000 for n in range(5)
        ]
        refused = [await client.post(path, content=body) for body in bodies]
        ready = await client.get("/readyz")
        alerts = (await client.get("/api/v1/alerts", headers=auth("admin"))).json()["alerts"]
        statuses = [
            (await client.get(f"/api/v1/payments/o{n}/status", headers=auth(key))).json()["status"]
            for n in range(5)
        ]

        break_storage(service, repair)
        accepted = await client.post(path, content=bodies[0])
        ready_again = await client.get("/readyz")
        alerts_again = (await client.get("/api/v1/alerts", headers=auth("admin"))).json()["alerts"]
        settled = (await client.get("/api/v1/payments/o0/status", headers=auth(key))).json()["status"]

    assert {answer.status_code for answer in refused} == {503}
    assert statuses == ["pending"] * 5
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("relay")]
    assert any("could not be stored" in r.getMessage() and cause in r.getMessage() for r in errors), [
        r.getMessage() for r in errors
    ]
    assert ready.status_code == 503 and cause in ready.json()["storage"]
    assert alerts[0]["code"] == "storage_failing" and cause in alerts[0]["message"]
    assert (accepted.status_code, ready_again.status_code, settled) == (200, 200, "completed")
    assert "storage_failing" not in [alert["code"] for alert in alerts_again]
