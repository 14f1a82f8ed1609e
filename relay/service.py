"""The running relay: its database, single writer, notifications and metrics, started and stopped
with the app (`relay.app.create_app`) and kept in `app.state.relay` for the handlers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from relay.db import Database, asyncpg_dsn
from relay.feed import changes_since, newest_seqs
from relay.metrics import RelayMetrics
from relay.migrate import upgrade
from relay.notify import Hub, PgListener
from relay.settings import RelaySettings
from relay.settle import Effects
from relay.writer import Writer

log = logging.getLogger("relay")

CHECKPOINT_EVERY_S = 1.0
# While storage keeps refusing requests, one log line per this many seconds, counting the others.
REFUSAL_LOG_EVERY_S = 10.0
# The long-polls' safety net: this often, one read finds what was committed without a notification reaching
# us (relay.notify) and wakes those waiters. Idle long-polls are not read on a timer.
SWEEP_S = 2.0


@dataclass
class Relay:
    """Everything a request handler needs, kept in `app.state.relay`."""

    settings: RelaySettings
    clock: Callable[[], datetime]
    db: Database | None = None
    writer: Writer | None = None
    hub: Hub = field(default_factory=Hub)
    metrics: RelayMetrics = field(default_factory=RelayMetrics)
    listener: PgListener | None = None
    # Set when the host is about to stop the server: open long-polls answer with what they have.
    closing: bool = False
    checkpointer: asyncio.Task[None] | None = None
    sweeper: asyncio.Task[None] | None = None
    freeze_gc: bool = False
    # When storage last refused a callback, and why; cleared by the next callback stored. /readyz and the
    # alerts say so, since the database still answers reads (a read-only or full disk).
    storage_failure: tuple[datetime, str] | None = None
    # Refusal log lines: when the last was written, and the refusals since then left out of the log.
    _refusal_logged_at: datetime | None = None
    _refusals_unlogged: int = 0

    def storage_failed(self, error: Exception) -> str | None:
        """Note that a request could not be stored. The line to log: the error's first line (and how many
        refusals since the previous line went unlogged), or None within REFUSAL_LOG_EVERY_S of that line,
        since an outage refuses every callback and the log must stay readable."""
        text = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:300]
        now = self.clock()
        self.storage_failure = (now, text)
        logged_at = self._refusal_logged_at
        if logged_at is not None and now - logged_at < timedelta(seconds=REFUSAL_LOG_EVERY_S):
            self._refusals_unlogged += 1
            return None
        unlogged, self._refusals_unlogged, self._refusal_logged_at = self._refusals_unlogged, 0, now
        return text if not unlogged else f"{text} ({unlogged} more refused since the previous line)"

    def storage_ok(self) -> None:
        """A request was stored: storage works (again)."""
        self.storage_failure = self._refusal_logged_at = None
        self._refusals_unlogged = 0

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the relay is not started")
        return self.db

    @property
    def write(self) -> Writer:
        if self.writer is None:
            raise RuntimeError("the relay is not started")
        return self.writer

    def committed(self, effects: Effects) -> None:
        """After each commit: wake long-polls, count, and log each change once."""
        self.hub.notify(effects.changes())
        self.metrics.observe(effects)
        for event in effects.events:
            fields = dict(event)
            log.info(fields.pop("event"), extra={"fields": fields})

    def release_waiters(self) -> None:
        """Answer every open long-poll now (with its current status), so stopping the server does not
        wait up to 30 s for them. Call before stopping uvicorn."""
        self.closing = True
        self.hub.wake_all()

    async def start(self) -> None:
        self.closing = False
        if self.settings.migrate_on_start:
            await upgrade(self.settings.database_url)
        self.db = Database(self.settings.database_url)
        if not self.db.is_sqlite:
            self.listener = PgListener(asyncpg_dsn(self.db.url), self.hub)
            await self.listener.start()
        self.writer = Writer(
            self.db,
            self.committed,
            max_batch=self.settings.max_batch,
            unavailable_wait_s=self.settings.database_wait_s,
        )
        self.writer.start()
        if self.db.is_sqlite:
            self.checkpointer = asyncio.create_task(self._checkpoint_every(CHECKPOINT_EVERY_S))
        self.sweeper = asyncio.create_task(self._sweep())
        if self.freeze_gc:
            # Everything loaded so far lives as long as the process: keep it out of the cyclic
            # collector's full passes, which otherwise stall the loop for tens of ms under load.
            # Only for a process of its own (`mpesa-relay serve`), never inside the till.
            gc.freeze()

    async def _checkpoint_every(self, interval_s: float) -> None:
        """SQLite's WAL is copied back into the database file here, off the writer's commit path (an
        automatic checkpoint would run inside some unlucky callback's commit and set the tail latency)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.database.checkpoint()
            except Exception:
                log.warning("WAL checkpoint failed; retrying", exc_info=True)

    async def _sweep(self) -> None:
        """Every SWEEP_S: wake the waiters of whatever was committed since the last sweep (two reads,
        whatever the number of long-polls held), in case its notification never reached us.

        Feed seq order is commit order per till only (relay.feed), so the sweep follows each till's newest
        seq: first every till's (so nothing committed after start-up is missed), then those of the tills
        with long-polls waiting; a till whose newest seq grew has its new entries read and their keys woken.
        """
        seen: dict[int, int] | None = None
        while True:
            try:
                if seen is None:
                    seen = await self.database.read(newest_seqs)
                elif tills := self.hub.tills_waiting():
                    newest = await self.database.read(functools.partial(newest_seqs, till_ids=tills))
                    self.hub.sweeps += 1
                    grown = {till: seen.get(till, 0) for till in newest if newest[till] > seen.get(till, 0)}
                    if grown:
                        changes = await self.database.read(functools.partial(changes_since, seen=grown))
                        self.hub.notify(changes)
                    seen.update(newest)
            except Exception:
                log.warning("long-poll sweep failed; retrying", exc_info=True)
            await asyncio.sleep(SWEEP_S)

    async def stop(self) -> None:
        for task in (self.sweeper, self.checkpointer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.sweeper = self.checkpointer = None
        if self.writer is not None:
            await self.writer.stop()
        if self.db is not None:
            with contextlib.suppress(Exception):
                await self.db.checkpoint()
        if self.listener is not None:
            await self.listener.stop()
        if self.db is not None:
            await self.db.dispose()
