"""Waking long-polls the moment a till's results change.

In-process: the writer calls `Hub.notify(till_ids)` right after its commit. Across instances sharing one
PostgreSQL, every write transaction also runs `pg_notify(CHANNEL, "<till ids>")`, which PostgreSQL
delivers only on commit, and each instance's `PgListener` (one asyncpg connection doing LISTEN) turns
those into `Hub.notify` calls. A waiter then re-reads the database: a notification says "look again",
never what changed, so a lost or duplicated notification cannot make a till see stale data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

CHANNEL = "mpesa_relay_events"

log = logging.getLogger("relay.notify")


class Hub:
    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def subscription(self, till_id: int) -> Any:
        """An event set on the next change for this till; subscribe *before* reading the database."""
        event = asyncio.Event()
        waiters = self._waiters.setdefault(till_id, set())
        waiters.add(event)
        try:
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(till_id, None)

    def notify(self, till_ids: Iterable[int]) -> None:
        for till_id in till_ids:
            for event in self._waiters.get(till_id, ()):
                event.set()

    def wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    def waiting(self) -> int:
        return sum(len(w) for w in self._waiters.values())


def encode_payload(till_ids: Iterable[int]) -> str:
    return ",".join(str(t) for t in sorted(set(till_ids)))


def decode_payload(payload: str) -> list[int]:
    return [int(part) for part in payload.split(",") if part.strip().isdigit()]


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

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._hub.notify(decode_payload(payload))

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
            except Exception as error:  # the database is away: keep trying, long-polls still re-read
                log.warning("listen connection failed", extra={"fields": {"error": type(error).__name__}})
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 10.0)
            finally:
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
