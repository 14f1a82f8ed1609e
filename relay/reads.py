"""Group reads: the till API's reads that arrive together run together, in one database round trip.

A commit wakes the long-polls whose answer it changed, and each must read the database again (a
notification only says "look again": relay/notify.py). On SQLite, what a read costs is mostly starting it:
a thread hop, and a read transaction that takes its WAL snapshot and finds its page cache stale after every
commit; on PostgreSQL, a pooled connection, which thousands of long-polls queue for. So reads are grouped
as writes are (relay/writer.py): while `in_flight` groups run, the reads that arrive queue, and the next
group takes them all (up to `MAX_GROUP`) in one `Database.read`: one hop, one transaction or connection.
An idle relay runs a lone read at once, so grouping adds no wait.

Every read in a group sees the database as of the group's start, which is after the read was asked for:
a long-poll woken by a commit always sees that commit. One read's error is its own; the others still
answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

T = TypeVar("T")

# Groups running at once. SQLite: two, one per core of a small VM; more threads only contend for the GIL
# (2,000 held long-polls, 200 callbacks/s: settle p95 18 ms with 2, 33 ms with 8). PostgreSQL: eight, of
# the 20 pooled connections; a group's reads are round trips one after the other, and with two groups the
# reads queued (p95 58 ms with 2, 8 ms with 8). benchmarks/long_poll_scale.py.
IN_FLIGHT_SQLITE = 2
IN_FLIGHT_POSTGRES = 8
MAX_GROUP = 64  # reads in one group; a group holds one snapshot while it runs

_Read = tuple[Callable[[Connection], Any], "asyncio.Future[Any]"]


class ReadGroups:
    def __init__(self, read: Callable[[Callable[[Connection], Any]], Awaitable[Any]], in_flight: int) -> None:
        self._read = read
        self._in_flight = in_flight
        self._queue: list[_Read] = []
        self._running: set[asyncio.Task[None]] = set()
        self.groups = 0  # database round trips made
        self.reads = 0  # reads answered through them

    async def read(self, fn: Callable[[Connection], T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((fn, future))
        self._start_groups()
        return await future

    def _start_groups(self) -> None:
        while self._queue and len(self._running) < self._in_flight:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            task = asyncio.create_task(self._run(group), name="relay-read-group")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start_groups()

    async def _run(self, group: list[_Read]) -> None:
        def run_all(connection: Connection) -> list[tuple[bool, Any]]:
            answers: list[tuple[bool, Any]] = []
            for fn, future in group:
                if future.done():  # its request went away meanwhile (the till hung up)
                    answers.append((False, None))
                    continue
                try:
                    answers.append((True, fn(connection)))
                except Exception as error:  # this read's own failure, told to its caller alone
                    answers.append((False, error))
            return answers

        try:
            answers = await self._read(run_all)
        except Exception as error:  # the round trip itself failed: every read in it did
            for _fn, future in group:
                if not future.done():
                    future.set_exception(error)
            return
        except asyncio.CancelledError:  # the relay is stopping
            for _fn, future in group:
                future.cancel()
            raise
        self.groups += 1
        self.reads += len(group)
        for (_fn, future), (ok, value) in zip(group, answers, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            elif value is not None:
                future.set_exception(value)
            else:
                future.cancel()
