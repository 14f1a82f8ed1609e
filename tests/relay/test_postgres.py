"""The relay on PostgreSQL (127.0.0.1:5432, user postgres): several instances sharing one database.

Each test creates its own database with a random name and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from relay.cli import main
from relay.db import Database
from relay.feed import FEED_LOCK_SPACE
from relay.migrate import current_revision, head_revision, upgrade
from relay.models import raw_table
from relay.settle import Effects
from relay.simulate import stk_callback_bytes
from relay.writer import Writer
from tests.relay.c2b_support import customer_pays, make_shop, register_relay, rows
from tests.relay.conftest import ACK, auth, registration
from tests.support.relay_fixtures import RelayFactory
from tests.support.simulator_fixtures import RunningSimulator

pytestmark = pytest.mark.postgres


async def test_several_instances_migrating_at_once_end_at_the_newest_schema(pg_url: str) -> None:
    await asyncio.gather(*(upgrade(pg_url) for _ in range(4)))
    assert await current_revision(pg_url) == head_revision()


async def test_a_payment_settles_on_postgresql_and_a_duplicate_changes_nothing(
    pg_url: str, relay_factory: RelayFactory
) -> None:
    relay = await relay_factory(database_url=pg_url)
    key, path = await relay.create_till("front")
    body = stk_callback_bytes("ws_CO_PG1", amount=10, receipt="TKL5550001")
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_PG1", 10), headers=auth(key))
        for _ in range(2):
            answer = await client.post(path, content=body)
            assert (answer.status_code, answer.json()) == (200, ACK)
        assert (await client.post(path, content=b"{nope")).status_code == 200
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
        feed = (await client.get("/api/v1/results", headers=auth(key))).json()
        receipt = await client.get("/api/v1/receipts/TKL5550001", headers=auth(key))
    assert (status["status"], status["transactionId"]) == ("completed", "TKL5550001")
    assert [item["order_id"] for item in feed["items"]] == ["o"]
    assert receipt.json()["amount_kes"] == 10
    db = Database(pg_url)
    try:
        statuses = await db.read(
            lambda c: list(c.execute(sa.select(raw_table.c.status).order_by(raw_table.c.id)).scalars())
        )
    finally:
        await db.dispose()
    assert statuses == ["applied", "duplicate", "malformed"]


async def test_a_callback_on_one_instance_wakes_a_long_poll_on_another_at_once(
    pg_url: str, relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No safety sweep within the polls' wait: only LISTEN/NOTIFY can wake them (how soon it does:
    # benchmarks/long_poll.py).
    monkeypatch.setattr("relay.service.SWEEP_S", 60.0)
    instance_a = await relay_factory(database_url=pg_url)
    instance_b = await relay_factory(database_url=pg_url)
    key, path = await instance_a.create_till("front")
    async with (
        httpx.AsyncClient(base_url=instance_a.base_url, timeout=15) as safaricom,
        httpx.AsyncClient(base_url=instance_b.base_url, timeout=15) as till,
    ):
        await till.post("/api/v1/payments", json=registration("o", "ws_CO_TWO", 10), headers=auth(key))
        status_poll = asyncio.create_task(till.get("/api/v1/payments/o/status?wait=30", headers=auth(key)))
        feed_poll = asyncio.create_task(till.get("/api/v1/results?after=0&wait=30", headers=auth(key)))
        await instance_b.long_polls_waiting(2)
        assert not status_poll.done()
        answer = await safaricom.post(path, content=stk_callback_bytes("ws_CO_TWO", amount=10))
        assert answer.status_code == 200
        # Long before their 30 s wait is over.
        status = (await asyncio.wait_for(status_poll, 10)).json()
        feed = (await asyncio.wait_for(feed_poll, 10)).json()
    assert status["status"] == "completed"
    assert [item["order_id"] for item in feed["items"]] == ["o"]


async def test_a_callback_on_one_instance_wakes_only_the_long_polls_it_concerns_on_another(
    pg_url: str, relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("relay.service.SWEEP_S", 60.0)
    instance_a = await relay_factory(database_url=pg_url)
    key, path = await instance_a.create_till("front")
    async with httpx.AsyncClient(base_url=instance_a.base_url, timeout=15) as safaricom:
        for order in ("a", "b"):
            await safaricom.post(
                "/api/v1/payments", json=registration(order, f"ws_CO_KEY_{order}", 10), headers=auth(key)
            )
    # Started after the registrations, so none of their notifications reach it.
    instance_b = await relay_factory(database_url=pg_url)
    async with (
        httpx.AsyncClient(base_url=instance_a.base_url, timeout=15) as safaricom,
        httpx.AsyncClient(base_url=instance_b.base_url, timeout=15) as till,
    ):
        status_a = asyncio.create_task(till.get("/api/v1/payments/a/status?wait=30", headers=auth(key)))
        status_b = asyncio.create_task(till.get("/api/v1/payments/b/status?wait=30", headers=auth(key)))
        feed = asyncio.create_task(till.get("/api/v1/results?after=0&wait=30", headers=auth(key)))
        await instance_b.long_polls_waiting(3)
        hub = instance_b.hub
        wakes, rereads = hub.wakes, hub.rereads
        answer = await safaricom.post(path, content=stk_callback_bytes("ws_CO_KEY_a", amount=10))
        assert answer.status_code == 200
        assert (await asyncio.wait_for(status_a, 10)).json()["status"] == "completed"
        assert [item["order_id"] for item in (await asyncio.wait_for(feed, 10)).json()["items"]] == ["a"]
        # One notification named a's status and the till's feed: b's long-poll was not woken.
        assert (hub.wakes - wakes, hub.rereads - rereads, hub.waiting()) == (2, 2, 1)
        assert not status_b.done()
        await instance_b.stop()
        assert (await status_b).json()["status"] == "pending"


async def test_the_same_callback_racing_into_two_instances_is_applied_once(
    pg_url: str, relay_factory: RelayFactory
) -> None:
    instance_a = await relay_factory(database_url=pg_url)
    instance_b = await relay_factory(database_url=pg_url)
    key, path = await instance_a.create_till("front")
    async with (
        httpx.AsyncClient(base_url=instance_a.base_url, timeout=15) as a,
        httpx.AsyncClient(base_url=instance_b.base_url, timeout=15) as b,
    ):
        for index in range(20):
            await a.post(
                "/api/v1/payments", json=registration(f"o{index}", f"ws_CO_R{index}", 10), headers=auth(key)
            )
        bodies = [stk_callback_bytes(f"ws_CO_R{index}", amount=10) for index in range(20)]
        answers = await asyncio.gather(
            *(client.post(path, content=body) for body in bodies for client in (a, b))
        )
        assert {answer.status_code for answer in answers} == {200}
        feed = (await b.get("/api/v1/results?limit=100", headers=auth(key))).json()
    assert sorted(item["order_id"] for item in feed["items"]) == sorted(f"o{index}" for index in range(20))
    seqs = [item["seq"] for item in feed["items"]]
    assert seqs == sorted(seqs)
    db = Database(pg_url)
    try:
        statuses = await db.read(lambda c: list(c.execute(sa.select(raw_table.c.status)).scalars()))
    finally:
        await db.dispose()
    assert sorted(statuses) == ["applied"] * 20 + ["duplicate"] * 20


async def test_a_result_survives_restarting_both_instances(pg_url: str, relay_factory: RelayFactory) -> None:
    relay = await relay_factory(database_url=pg_url)
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_RS", 10), headers=auth(key))
        await client.post(path, content=stk_callback_bytes("ws_CO_RS", result_code=1))
    await relay.restart()
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert (status["status"], status["result_code"]) == ("failed", "1")


async def test_replay_takes_the_tills_feed_lock_so_its_feed_order_is_commit_order(
    pg_url: str, relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Without the lock, a replay could draw feed seq N, a live writer N+1 for the same till and commit
    # first, the till read `after=N+1`, and the replay's row then commit behind the cursor: skipped for good.
    import asyncpg

    relay = await relay_factory(database_url=pg_url, ip_allowlist_enabled=True)
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_RP", 10), headers=auth(key))
        await client.post(path, content=stk_callback_bytes("ws_CO_RP", amount=10))
    db = Database(pg_url)
    try:
        raw_id = await db.read(lambda c: c.execute(sa.select(raw_table.c.id)).scalar_one())
        till_id = await db.read(lambda c: c.execute(sa.select(raw_table.c.till_id)).scalar_one())
    finally:
        await db.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("RELAY_IP_ALLOWLIST", "false")
    holder = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT pg_advisory_xact_lock($1, $2)", FEED_LOCK_SPACE, till_id)
        out = io.StringIO()
        replay = asyncio.create_task(
            asyncio.to_thread(main, ["replay", str(raw_id)], out=out, err=io.StringIO())
        )
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        async with asyncio.timeout(15):
            while not await holder.fetchval(waiting):  # the replay is queued behind the lock
                assert not replay.done(), "replay wrote while a writer held the till's feed lock"
                await asyncio.sleep(0.02)
        assert not replay.done(), "replay wrote while a writer held the till's feed lock"
        await transaction.rollback()
        assert await asyncio.wait_for(replay, timeout=15) == 0
    finally:
        await holder.close()
    assert "applied" in out.getvalue()


async def test_a_callback_the_database_refuses_costs_only_itself_and_leaves_no_phone_in_the_logs(
    pg_url: str, relay_factory: RelayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # What a callback holds is fitted before storing (relay/storable.py); a refusal that fitting cannot
    # foresee is made here with a CHECK constraint. It fails its batch: the batch is retried in halves,
    # the other callbacks are applied, the refused one is kept raw as failed. SQLAlchemy's error text
    # carries the statement's parameters (bodies, payers' phones) unless the engine hides them.
    import asyncpg

    relay = await relay_factory(database_url=pg_url)
    key, path = await relay.create_till("front")
    admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(
            "ALTER TABLE stk_result ADD CONSTRAINT refuse_one CHECK (checkout_request_id <> 'ws_CO_LOG')"
        )
    finally:
        await admin.close()
    honest = [f"ws_CO_OK{n}" for n in range(7)]
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        for checkout_id in honest:
            await client.post(
                "/api/v1/payments", json=registration(checkout_id, checkout_id, 10), headers=auth(key)
            )
        with caplog.at_level("INFO"):
            answers = await asyncio.gather(
                client.post(path, content=stk_callback_bytes("ws_CO_LOG", amount=10, phone="254708374149")),
                *(client.post(path, content=stk_callback_bytes(cid, amount=10)) for cid in honest),
            )
        statuses = [
            (await client.get(f"/api/v1/payments/{cid}/status", headers=auth(key))).json()["status"]
            for cid in honest
        ]
    assert [(answer.status_code, answer.json()) for answer in answers] == [(200, ACK)] * 8
    assert statuses == ["completed"] * 7
    assert "callback processing failed" in caplog.text
    assert "254708374149" not in caplog.text
    assert "ws_CO_LOG" not in caplog.text
    db = Database(pg_url)
    try:
        rows = await db.read(
            lambda c: sorted(c.execute(sa.select(raw_table.c.status, raw_table.c.error)).all())
        )
    finally:
        await db.dispose()
    assert [status for status, _error in rows] == ["applied"] * 7 + ["failed"]
    assert "refuse_one" in rows[-1][1]


async def test_a_callback_on_an_overlong_or_nul_token_path_is_kept_and_acknowledged(
    pg_url: str, relay_factory: RelayFactory
) -> None:
    # PostgreSQL enforces the path and token column lengths and refuses NUL in text: this garbage was
    # answered 503 and not kept.
    relay = await relay_factory(database_url=pg_url)
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        answers = [
            await client.post(
                "/api/v1/callbacks/stk/" + token, content=stk_callback_bytes("ws_CO_LONG", amount=1)
            )
            for token in ("a" * 400, "%41" * 200, "abc%00def")
        ]
    assert [(answer.status_code, answer.json()) for answer in answers] == [(200, ACK)] * 3
    db = Database(pg_url)
    try:
        statuses = await db.read(
            lambda c: list(c.execute(sa.select(raw_table.c.status).order_by(raw_table.c.id)).scalars())
        )
    finally:
        await db.dispose()
    assert statuses == ["unknown_token"] * 3


async def test_c2b_two_tills_on_two_instances_racing_to_claim_one_payment_one_wins(
    pg_url: str, relay_factory: RelayFactory, simulator: RunningSimulator
) -> None:
    instance_a = await relay_factory(database_url=pg_url)
    instance_b = await relay_factory(database_url=pg_url)
    shop = await make_shop(instance_a, "duka", "5123456", ["front", "back"])
    await register_relay(simulator, instance_a, shop.ref)
    async with (
        httpx.AsyncClient(base_url=instance_a.base_url, timeout=40) as a,
        httpx.AsyncClient(base_url=instance_b.base_url, timeout=40) as b,
    ):
        # The payment reaches instance A; the back till's long-poll on instance B wakes (LISTEN/NOTIFY).
        poll = asyncio.create_task(b.get("/api/v1/results?after=0&wait=30", headers=auth(shop.keys["back"])))
        await instance_b.long_polls_waiting(1)
        paid = [await customer_pays(simulator, "5123456", 10 + index) for index in range(5)]
        woken = (await asyncio.wait_for(poll, 10)).json()["items"]
        assert woken[0]["c2b"]["trans_id"] == paid[0]["TransID"]
        for payment in paid:
            trans_id = payment["TransID"]
            answers = await asyncio.gather(
                a.post(
                    f"/api/v1/c2b/{trans_id}/claim", json={"order_id": "a"}, headers=auth(shop.keys["front"])
                ),
                b.post(
                    f"/api/v1/c2b/{trans_id}/claim", json={"order_id": "b"}, headers=auth(shop.keys["back"])
                ),
            )
            assert sorted(answer.status_code for answer in answers) == [200, 409]
            winner = next(answer for answer in answers if answer.status_code == 200).json()["claimed_by"]
            refused = next(answer for answer in answers if answer.status_code == 409).json()
            assert refused["extra"]["claimed_by"] == winner
    claims = await rows(
        pg_url, "SELECT action, count(*) AS n FROM claim_event GROUP BY action ORDER BY action"
    )
    assert [(row["action"], row["n"]) for row in claims] == [("claim", 5), ("refused", 5)]


async def test_a_write_does_not_queue_behind_reads_holding_every_read_connection(pg_url: str) -> None:
    # With 2,000 long-polls held, their reads took every pooled connection and the writer's batches timed
    # out waiting behind them (benchmarks/long_poll_scale.py --database postgres --held 2000).
    import asyncpg

    await upgrade(pg_url)
    db = Database(pg_url)
    holder = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await holder.execute("SELECT pg_advisory_lock(4242)")
        reads = [
            asyncio.create_task(db.read(lambda c: c.execute(sa.text("SELECT pg_advisory_lock_shared(4242)"))))
            for _ in range(20)  # the read pool's every connection (10 + 10 overflow)
        ]
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%4242%'"
        )
        for _ in range(750):  # up to 15 s for every read to hold its connection, blocked on the lock
            if await holder.fetchval(waiting) >= 20:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the reads never took every pooled connection")
        written = await asyncio.wait_for(db.write(lambda c: c.execute(sa.text("SELECT 1")).scalar_one()), 10)
        assert written == 1
        assert not any(read.done() for read in reads)
        await holder.execute("SELECT pg_advisory_unlock(4242)")
        await asyncio.wait_for(asyncio.gather(*reads), 15)
    finally:
        await holder.close()
        await db.dispose()


@pytest.mark.parametrize("times", [1, 2])
async def test_a_write_whose_connection_is_cut_mid_transaction_runs_again_on_a_fresh_one(
    pg_url: str, times: int
) -> None:
    # Cut connections (`pg_terminate_backend`, a restarted server) must be told apart from a job's own
    # failure: a lone callback was set aside as failed, and acknowledged, when the feed's clean-up after
    # the cut raised PendingRollbackError in place of the driver's "connection lost".
    await upgrade(pg_url)
    db = Database(pg_url)
    writer = Writer(db, lambda _effects: None)
    writer.start()
    cuts: list[int] = []

    def cut_once(connection: sa.Connection) -> tuple[int, Effects]:
        pid = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        if len(cuts) < times:  # twice: both of the writer's pooled connections, as a restarted server does
            cuts.append(pid)
            connection.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
        return pid, Effects()

    try:
        pid = await asyncio.wait_for(writer.submit(cut_once), 20)
    finally:
        await writer.stop()
        await db.dispose()
    assert len(cuts) == times
    assert pid not in cuts  # ran again, on another connection
