"""Feed order across instances (relay/feed.py): two relays on one PostgreSQL, many writers, commits delayed
at random between drawing a feed seq and committing it, and tills reading their feeds with `after=N` on
both instances: every row is read exactly once. With no lock between drawing and committing, a reader
moves past a row that commits later with a smaller seq, and this test fails."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from relay.db import Database
from relay.models import feed_table, payment_table, utcnow
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import PHONE, auth
from tests.support.relay_fixtures import RelayFactory

pytestmark = pytest.mark.postgres

TILLS = 2
PAYMENTS_PER_TILL = 12
SENDERS = 4  # per instance

# Once per transaction, at its first feed row (its seq is drawn by then), for a payment sent to the slow
# instance: wait 200 to 300 ms before going on, while the other instance commits what it drew later.
SLOW_COMMIT = """
CREATE FUNCTION slow_feed_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('relay_test.slept', true) IS DISTINCT FROM 'yes' AND EXISTS (
        SELECT 1 FROM payment WHERE id = NEW.payment_id AND checkout_request_id LIKE 'slow%'
    ) THEN
        PERFORM set_config('relay_test.slept', 'yes', true);
        PERFORM pg_sleep(0.2 + random() * 0.1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER slow_feed_commit AFTER INSERT ON feed_entry FOR EACH ROW EXECUTE FUNCTION slow_feed_commit();
"""


async def _read_feed(base_url: str, key: str, done: asyncio.Event) -> list[int]:
    """A till's feed read with `after=N` as a till reads it, until the writers are done and nothing is new."""
    seen: list[int] = []
    after = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        while True:
            finished = done.is_set()
            wait = 0 if finished else 1
            answer = await client.get(f"/api/v1/results?after={after}&wait={wait}&limit=7", headers=auth(key))
            assert answer.status_code == 200, answer.text
            page = answer.json()
            seen.extend(item["seq"] for item in page["items"])
            after = page["next_after"]
            if finished and not page["items"]:
                return seen


async def _register(pg_url: str, payments: list[tuple[int, str]]) -> None:
    """Pending payments, registered in one transaction (what POST /api/v1/payments stores)."""
    now = utcnow()
    rows = [
        {
            "till_id": till_id,
            "order_id": checkout_id,
            "checkout_request_id": checkout_id,
            "amount_kes": 10,
            "phone": PHONE,
            "status": "pending",
            "registered_at": now,
            "updated_at": now,
        }
        for till_id, checkout_id in payments
    ]
    db = Database(pg_url)
    try:
        await db.write(lambda c: c.execute(sa.insert(payment_table), rows))
    finally:
        await db.dispose()


async def test_two_instances_many_writers_and_delayed_commits_every_reader_sees_every_row_once(
    pg_url: str, relay_factory: RelayFactory
) -> None:
    import asyncpg

    instances = [await relay_factory(database_url=pg_url) for _ in range(2)]
    tills = [await instances[0].create_till(f"till{index}") for index in range(TILLS)]
    admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(SLOW_COMMIT)
    finally:
        await admin.close()
    # Both tills in every batch of both instances, so their concurrent transactions append to the same feeds;
    # the first instance's commits are slow.
    jobs = [
        [
            (till_id, path, f"{speed}{till_id}_{index}")
            for index in range(PAYMENTS_PER_TILL // 2)
            for till_id, (_key, path) in enumerate(tills, start=1)
        ]
        for speed in ("slow", "fast")
    ]
    clients = [httpx.AsyncClient(base_url=instance.base_url, timeout=30) for instance in instances]
    try:
        await _register(pg_url, [(till, checkout_id) for queue in jobs for till, _path, checkout_id in queue])
        done = asyncio.Event()
        readers = [
            asyncio.create_task(_read_feed(instance.base_url, key, done))
            for key, _path in tills
            for instance in instances
        ]

        async def send(client: httpx.AsyncClient, queue: Iterator[tuple[int, str, str]]) -> None:
            for _till, path, checkout_id in queue:
                answer = await client.post(path, content=stk_callback_bytes(checkout_id, amount=10))
                assert answer.status_code == 200

        # Senders of their own for each instance, so both writers always have work.
        queues = [iter(queue) for queue in jobs]
        await asyncio.gather(
            *(
                send(client, queue)
                for client, queue in zip(clients, queues, strict=True)
                for _ in range(SENDERS)
            )
        )
        done.set()
        seen = await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
    finally:
        for client in clients:
            await client.aclose()
    db = Database(pg_url)
    try:
        rows = await db.read(
            lambda c: c.execute(
                sa.select(feed_table.c.till_id, feed_table.c.seq).order_by(feed_table.c.seq)
            ).all()
        )
    finally:
        await db.dispose()
    by_till = {
        till: [seq for _till, seq in group]
        for till, group in itertools.groupby(sorted(rows), key=lambda r: r[0])
    }
    assert sorted(len(seqs) for seqs in by_till.values()) == [PAYMENTS_PER_TILL] * TILLS
    expected = [seqs for seqs in by_till.values() for _instance in instances]
    # Readers are ordered till by till, instance by instance, as are `expected`'s lists (till ids ascend).
    assert seen == expected
