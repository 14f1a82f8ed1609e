"""Waking long-polls the moment their answer may have changed, and only those.

A long-poll waits on one key: a status long-poll on `status_key(till, order)`, a feed long-poll on
`feed_key(till)`. A commit announces what it changed (`relay.settle.Effects`: the orders whose status
changed, the tills whose feed grew), and `Hub.notify` wakes the waiters of those keys alone: a commit costs
O(what it changed), not O(long-polls held). A woken waiter re-reads the database: a notification says
"look again", never what the answer is, so a lost or duplicated notification cannot serve stale data.

In-process: the writer calls `Hub.notify` right after its commit. Across instances sharing one PostgreSQL,
every write transaction also runs `pg_notify(CHANNEL, encode_payload(...))`, which PostgreSQL delivers only
on commit, and each instance's `PgListener` (one asyncpg connection doing LISTEN) turns those into
`Hub.notify` calls. A notification can still be lost (the LISTEN connection drops, or a process writes
without notifying, as `mpesa-relay replay` does on SQLite): one periodic sweep (`relay.service`, reading
`relay.feed.changes_since`) finds what was committed meanwhile and wakes its waiters, instead of every
waiter re-reading on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

CHANNEL = "mpesa_relay_events"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; a bigger change set names its tills only.
PAYLOAD_MAX_BYTES = 7900

log = logging.getLogger("relay.notify")

Key = tuple[str, int] | tuple[str, int, str]


def feed_key(till_id: int) -> Key:
    return ("feed", till_id)


def status_key(till_id: int, order_id: str) -> Key:
    return ("status", till_id, order_id)


@dataclass
class Changes:
    """What a commit changed, as far as long-polls are concerned."""

    feeds: set[int] = field(default_factory=set)  # tills whose feed grew
    orders: set[tuple[int, str]] = field(default_factory=set)  # (till, order) whose status changed
    tills: set[int] = field(default_factory=set)  # tills whose every long-poll looks again

    def __bool__(self) -> bool:
        return bool(self.feeds or self.orders or self.tills)


class Hub:
    """Long-polls waiting, by key. Counters (`wakes`, `rereads`, `sweeps`) show what the waiting costs."""

    def __init__(self) -> None:
        self._waiters: dict[Key, set[asyncio.Event]] = {}
        self._keys_by_till: dict[int, set[Key]] = {}
        self._announced = 0
        self._announced_by_till: dict[int, int] = {}
        self.wakes = 0  # waiters woken by a notification, a sweep or `wake_all`
        self.rereads = 0  # database reads long-polls made after waiting (counted by the long-poll)
        self.sweeps = 0  # safety sweeps done

    @contextlib.contextmanager
    def subscription(self, key: Key) -> Iterator[asyncio.Event]:
        """An event set on the next change announced for `key`; see `mark` for reading race-free."""
        event = asyncio.Event()
        till_id = key[1]
        waiters = self._waiters.setdefault(key, set())
        waiters.add(event)
        self._keys_by_till.setdefault(till_id, set()).add(key)
        try:
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(key, None)
                keys = self._keys_by_till.get(till_id)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        self._keys_by_till.pop(till_id, None)

    def mark(self, till_id: int | None = None) -> int:
        """A number that moves whenever a change is announced (for `till_id`, if given).

        A long-poll takes a mark before reading and, once subscribed, reads again only if the mark moved:
        a change committed between its read and its subscription is never missed.
        """
        return self._announced if till_id is None else self._announced_by_till.get(till_id, 0)

    def notify(self, changes: Changes) -> None:
        self._announced += 1
        for till_id in changes.feeds | changes.tills | {till for till, _ in changes.orders}:
            self._announced_by_till[till_id] = self._announced_by_till.get(till_id, 0) + 1
        for till_id in changes.feeds:
            self._wake(feed_key(till_id))
        for till_id, order_id in changes.orders:
            self._wake(status_key(till_id, order_id))
        for till_id in changes.tills:
            for key in list(self._keys_by_till.get(till_id, ())):
                self._wake(key)

    def _wake(self, key: Key) -> None:
        for event in self._waiters.get(key, ()):
            if not event.is_set():
                event.set()
                self.wakes += 1

    def wake_all(self) -> None:
        for key in list(self._waiters):
            self._wake(key)

    def tills_waiting(self) -> list[int]:
        return list(self._keys_by_till)

    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())


def encode_payload(changes: Changes) -> str:
    """The NOTIFY payload for `changes`; too big a set is sent as its tills (each long-poll looks again)."""
    payload = json.dumps(
        {
            "feeds": sorted(changes.feeds),
            "orders": sorted([till, order] for till, order in changes.orders),
            "tills": sorted(changes.tills),
        },
        separators=(",", ":"),
    )
    if len(payload.encode()) <= PAYLOAD_MAX_BYTES:
        return payload
    tills = changes.feeds | changes.tills | {till for till, _ in changes.orders}
    return json.dumps({"tills": sorted(tills)}, separators=(",", ":"))


def decode_payload(payload: str) -> Changes:
    """`encode_payload`'s changes; an older relay's payload (till ids, comma separated) wakes those tills."""
    if not payload.startswith("{"):
        return Changes(tills={int(part) for part in payload.split(",") if part.strip().isdigit()})
    data = json.loads(payload)
    return Changes(
        feeds={int(till) for till in data.get("feeds", ())},
        orders={(int(till), str(order)) for till, order in data.get("orders", ())},
        tills={int(till) for till in data.get("tills", ())},
    )


def notify_sql(connection: Connection, changes: Changes) -> None:
    """Inside a PostgreSQL write transaction: tell every instance, on commit, what it changed."""
    if changes:
        connection.execute(sa.select(sa.func.pg_notify(CHANNEL, encode_payload(changes))))


class PgListener:
    """LISTEN on the shared channel; reconnects with back-off if the connection drops."""

    def __init__(self, dsn: str, hub: Hub) -> None:
        self._dsn = dsn
        self._hub = hub
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="relay-pg-listener")
        # Listening before we serve: a callback committed after start-up always wakes our waiters.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_notification(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            changes = decode_payload(payload)
        except (ValueError, TypeError):
            log.warning("unreadable notification ignored; the sweep catches up")
            return
        self._hub.notify(changes)

    async def _run(self) -> None:
        import asyncpg  # PostgreSQL only

        delay_s = 0.5
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._on_notification)
                self._ready.set()
                delay_s = 0.5
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: keep trying; the sweep catches up
                log.warning("listen connection failed", extra={"fields": {"error": type(error).__name__}})
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 10.0)
            finally:
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
