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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from relay.c2b import CONFIRMATION
from relay.db import Database
from relay.intake import IncomingCallback
from relay.models import utcnow
from relay.service import Relay
from relay.simulate import stk_callback_bytes
from relay.tills import TillRef
from relay.writer import Writer
from tests.relay.c2b_support import PAYER, make_shop
from tests.relay.conftest import auth, registration
from tests.relay.drill_support import PHONE, Load, RelayProcess, check_acknowledged_stored_once, prepare
from tests.relay.private_postgres import PrivatePostgres
from tests.support.relay_fixtures import RelayFactory

pytestmark = pytest.mark.drill

# Callbacks refused while the database is down before it is started again: about a second of load.
REFUSED_WHILE_DOWN = 150


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"


@pytest.fixture
async def processes() -> AsyncIterator[list[RelayProcess]]:
    started: list[RelayProcess] = []
    yield started
    for process in started:
        process.stop()


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

    assert len(load.acknowledged) >= kills * 30 + 20, load.refused
    await check_acknowledged_stored_once(database_url, load.acknowledged, relay.log())
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
    await check_acknowledged_stored_once(pg_url, load.acknowledged, relay.log())


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, started; the shared one at 127.0.0.1:5432 is never stopped."""
    server = PrivatePostgres.find()
    if isinstance(server, str):
        pytest.skip(server)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


async def listening(dsn: str) -> bool:
    """Whether some session on the server has LISTENed (the relay's PgListener, relay/notify.py)."""
    admin = await asyncpg.connect(dsn)
    try:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()"
        )
        return bool(await admin.fetchval(query))
    finally:
        await admin.close()


async def until(condition: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 15.0) -> float:
    """The loop's time when `condition()` held."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await condition():
        assert loop.time() - started < timeout_s, f"not within {timeout_s} s: {what}"
        await asyncio.sleep(0.02)
    return loop.time()


async def relay_database(server: PrivatePostgres) -> str:
    """A database `relay` on the private server; its URL."""
    admin = await asyncpg.connect(server.dsn)
    try:
        await admin.execute("CREATE DATABASE relay")
    finally:
        await admin.close()
    return server.url("relay")


async def serving(
    url: str, tmp_path: Path, processes: list[RelayProcess], **env: str
) -> tuple[TillRef, list[str], RelayProcess]:
    """A till with 6,000 registered payments, and `mpesa-relay serve` on `url`, ready."""
    till, ids = await prepare(url, payments=6_000)
    relay = RelayProcess(url, tmp_path, **env)
    processes.append(relay)
    relay.start()
    await relay.wait_ready()
    return till, ids, relay


@pytest.mark.postgres
async def test_postgres_restarted_while_serving_refuses_callbacks_and_intake_resumes_by_itself(
    private_postgres: PrivatePostgres, tmp_path: Path, processes: list[RelayProcess]
) -> None:
    server = private_postgres
    url = await relay_database(server)
    # Callbacks wait half a second for the database (RELAY_DATABASE_WAIT_S), then are refused.
    till, ids, relay = await serving(url, tmp_path, processes, RELAY_DATABASE_WAIT_S="0.5")
    await until(lambda: listening(server.dsn), "the relay LISTENs")
    load = Load(relay.base_url, till.callback_path, ids)
    load.start()
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=10) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        try:
            await load.until_acknowledged(50)
            await asyncio.to_thread(server.stop)  # pg_ctl stop -m fast: every connection cut
            down_at = loop.time()
            await load.until_refused(REFUSED_WHILE_DOWN)
            ready_while_down = await client.get("/readyz")
            restart_at = loop.time()
            await asyncio.to_thread(server.start)
            up_at = loop.time()
            await load.until_acknowledged(50)  # by itself: the relay process is the same
            resumed_s = (
                min(
                    answered for _sent, answered, status in load.answers if answered > up_at and status == 200
                )
                - up_at
            )
            ready_again_s = await until(ready, "/readyz passes again") - up_at
            listening_again_s = await until(lambda: listening(server.dsn), "the relay LISTENs again") - up_at
        finally:
            await load.stop()
    assert relay.process is not None and relay.process.poll() is None, relay.log()
    relay.stop()

    while_down = [
        status for sent, answered, status in load.answers if sent >= down_at and answered <= restart_at
    ]
    assert len(while_down) >= REFUSED_WHILE_DOWN - 4  # those in flight at the stop were sent before it
    assert set(while_down) == {503}, load.refused
    assert ready_while_down.status_code == 503, ready_while_down.text
    assert (relay.starts, server.starts) == (1, 2)
    await check_acknowledged_stored_once(url, load.acknowledged, relay.log())
    print(
        f"acknowledged {len(load.acknowledged)}, refused {load.refused}, down {restart_at - down_at:.2f} s, "
        f"first 200 {resumed_s:.2f} s after the server was back, /readyz {ready_again_s:.2f} s, "
        f"LISTEN {listening_again_s:.2f} s"
    )


@pytest.mark.postgres
async def test_postgres_restarted_within_the_wait_refuses_nothing_and_loses_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path, processes: list[RelayProcess]
) -> None:
    # Safaricom sends a callback once: one refused while the database restarts loses its receipt. Those
    # arriving meanwhile wait for it (RELAY_DATABASE_WAIT_S, 5 s by default) and are stored when it is back.
    server = private_postgres
    url = await relay_database(server)
    till, ids, relay = await serving(url, tmp_path, processes)
    load = Load(relay.base_url, till.callback_path, ids)
    load.start()
    try:
        await load.until_acknowledged(50)
        await asyncio.to_thread(server.stop)

        async def writer_waits() -> bool:
            return "database unavailable during a batch" in relay.log()

        await until(writer_waits, "the writer finds the database away")
        await asyncio.to_thread(server.start)
        held = len(load.answers)
        await load.until_acknowledged(50)
    finally:
        await load.stop()
    relay.stop()
    assert load.refused == {}, load.refused
    assert held < len(load.answers)
    assert (relay.starts, server.starts) == (1, 2)
    await check_acknowledged_stored_once(url, load.acknowledged, relay.log())


async def test_a_callback_whose_database_comes_back_between_two_tries_is_stored_not_set_aside(
    private_postgres: PrivatePostgres,
) -> None:
    # The writer took "could not connect" for the callback's own failure: it stored the callback raw as
    # failed, for a replay, and the relay acknowledged it; when the server came back between the failed
    # batch and that fallback, a paid callback waited for an operator instead of settling its payment.
    server = private_postgres
    url = await relay_database(server)
    till, (cid,) = await prepare(url, payments=1)
    db = Database(url)
    writer = Writer(db, lambda _effects: None)
    writer.start()
    write = db.write
    failed: list[Exception] = []
    restarts: list[asyncio.Task[None]] = []

    async def server_back_after_a_failure(fn: Callable[[sa.Connection], Any]) -> Any:
        try:
            return await write(fn)
        except Exception as error:
            failed.append(error)
            if len(failed) == 1:  # the server comes back while the writer waits (it takes a second or so)
                restarts.append(asyncio.create_task(asyncio.to_thread(server.start)))
            raise

    body = stk_callback_bytes(cid, result_code=0, amount=1, receipt="RBACK00001", phone=PHONE)
    item = IncomingCallback(utcnow(), till.callback_path, till.token, "127.0.0.1", True, {}, body)
    try:
        await db.write(lambda c: c.execute(sa.text("SELECT 1")))  # the writer's pooled connection: cut next
        server.stop()
        db.write = server_back_after_a_failure  # type: ignore[method-assign]
        outcome = await asyncio.wait_for(writer.submit_callback(item), 20)
    finally:
        await writer.stop()
        await db.dispose()
    await asyncio.gather(*restarts)
    assert len(failed) >= 1, failed
    assert outcome.status != "failed", outcome
    await check_acknowledged_stored_once(url, [cid], "")


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
    # One line for the five refusals: an outage refuses every callback, and the log must stay readable.
    assert len([r for r in errors if "could not be stored" in r.getMessage()]) == 1
    assert ready.status_code == 503 and cause in ready.json()["storage"]
    assert alerts[0]["code"] == "storage_failing" and cause in alerts[0]["message"]
    assert (accepted.status_code, ready_again.status_code, settled) == (200, 200, "completed")
    assert "storage_failing" not in [alert["code"] for alert in alerts_again]


async def test_a_c2b_confirmation_storage_refuses_is_refused_noted_and_logged_once_without_the_payer(
    relay_factory: RelayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # It was logged with its whole traceback, whose driver error can quote the row: the payer's number.
    relay_server = await relay_factory()
    shop = await make_shop(relay_server, "duka", "600999", ["front"])
    break_storage(relay_server.service, "query_only = ON")
    async with httpx.AsyncClient(timeout=10) as client:
        answers = [
            await client.post(shop.ref.url(CONFIRMATION, relay_server.base_url), json=confirmation(n))
            for n in range(5)
        ]
        ready = await client.get(f"{relay_server.base_url}/readyz")
    assert {answer.status_code for answer in answers} == {503}
    assert ready.status_code == 503 and "readonly" in ready.json()["storage"]
    lines = [r for r in caplog.records if "could not be stored" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in lines] == [
        "C2B confirmation could not be stored, refused with 503"
    ]
    assert PAYER not in caplog.text


def confirmation(n: int) -> dict[str, str]:
    return {
        "TransactionType": "Pay Bill",
        "TransID": f"UL2SIM{n:04d}",
        "TransTime": "20261202120000",
        "TransAmount": "250.00",
        "BusinessShortCode": "600999",
        "BillRefNumber": "",
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": PAYER,
        "FirstName": "DEMO",
        "MiddleName": "",
        "LastName": "",
    }
