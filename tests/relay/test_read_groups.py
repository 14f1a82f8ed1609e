"""Reads that arrive together share one database round trip (relay/reads.py), each with its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from relay.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    await database.write(lambda c: c.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")))
    rows = [{"i": i, "v": i * 10} for i in range(200)]
    await database.write(lambda c: c.execute(sa.text("INSERT INTO t (id, v) VALUES (:i, :v)"), rows))
    yield database
    await database.dispose()


def value_of(row_id: int) -> Callable[[Connection], int]:
    return lambda c: int(c.execute(sa.text("SELECT v FROM t WHERE id = :i"), {"i": row_id}).scalar_one())


async def test_reads_asked_together_share_round_trips_and_each_gets_its_own_answer(db: Database) -> None:
    answers = await asyncio.gather(*(db.grouped.read(value_of(i)) for i in range(200)))

    assert answers == [i * 10 for i in range(200)]
    assert db.grouped.reads == 200
    # The first two run at once, alone; the other 198 queue behind them and go in groups of up to 64.
    assert db.grouped.groups <= 2 + 4


async def test_a_lone_read_runs_at_once_without_waiting_for_company(db: Database) -> None:
    assert await db.grouped.read(value_of(3)) == 30
    assert (db.grouped.groups, db.grouped.reads) == (1, 1)


async def test_one_reads_error_is_its_own_and_the_others_in_its_group_still_answer(db: Database) -> None:
    def broken(connection: Connection) -> int:
        connection.execute(sa.text("SELECT nothing FROM nowhere"))
        return 0

    results = await asyncio.gather(
        *(db.grouped.read(broken if i == 5 else value_of(i)) for i in range(20)), return_exceptions=True
    )

    assert isinstance(results[5], sa.exc.OperationalError)
    assert [r for i, r in enumerate(results) if i != 5] == [i * 10 for i in range(20) if i != 5]


async def test_a_read_asked_after_a_commit_sees_it_although_its_group_formed_under_load(db: Database) -> None:
    async def write_then_read(i: int) -> int:
        await db.write(lambda c: c.execute(sa.text("UPDATE t SET v = :v WHERE id = :i"), {"i": i, "v": -i}))
        value: int = await db.grouped.read(value_of(i))
        return value

    readers = [asyncio.create_task(db.grouped.read(value_of(i))) for i in range(100, 200)]
    seen = await asyncio.gather(*(write_then_read(i) for i in range(1, 50)))
    await asyncio.gather(*readers)

    assert seen == [-i for i in range(1, 50)]


async def test_a_caller_that_goes_away_does_not_take_its_group_with_it(db: Database) -> None:
    tasks = [asyncio.create_task(db.grouped.read(value_of(i))) for i in range(50)]
    tasks[10].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(results[10], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i != 10] == [i * 10 for i in range(50) if i != 10]
