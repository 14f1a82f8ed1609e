"""The single writer: every write goes through one queue, and concurrent writes share one transaction.

Group commit. A callback handler puts its request on the queue and awaits a future; the writer takes
everything queued (up to `max_batch`), runs it in ONE transaction, commits, and only then resolves the
futures, so a handler can never acknowledge a callback that is not on disk ("stored before
acknowledged" holds for every request in the batch). While one batch commits, the next one queues up,
so the batch size grows with the load and the commit cost (an fsync on SQLite) is shared.

What a callback holds is fitted to the columns before anything is stored (`relay.storable`), so a
callback's content does not fail a batch. If a batch fails anyway, it is retried in halves until the
failing job stands alone; a callback whose processing fails alone is stored raw with the error
(`status="failed"`), to be replayed once the bug is fixed. A database that is away (connection cut, or
none to be had) is nobody's fault: the batch runs again, then every job in it is refused, none set aside.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from relay.db import Database
from relay.intake import CallbackOutcome, IncomingCallback, process_callbacks, store_raw_only
from relay.notify import notify_sql
from relay.settle import Effects

log = logging.getLogger("relay.writer")

# While the database is away, a batch runs again after each of these pauses in turn (the last repeated),
# until `unavailable_wait_s` has passed. The first is immediate: every pooled connection can be cut at once
# (a restarted server) and each is found dead only when used, while the server itself is already back.
RETRY_PAUSES_S = (0.0, 0.0, 0.1, 0.25, 0.5)

# A job runs inside the batch transaction and returns (its answer, what it changed).
JobFn = Callable[[Connection], tuple[Any, Effects]]


@dataclass
class _Job:
    future: asyncio.Future[Any]
    callback: IncomingCallback | None = None
    fn: JobFn | None = None
    effects: Effects = field(default_factory=Effects)


class Writer:
    def __init__(
        self,
        db: Database,
        on_committed: Callable[[Effects], None],
        *,
        max_batch: int = 256,
        unavailable_wait_s: float = 5.0,
    ) -> None:
        self._db = db
        self._on_committed = on_committed
        self._max_batch = max_batch
        self._unavailable_wait_s = unavailable_wait_s
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.largest_batch = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="relay-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def submit_callback(self, item: IncomingCallback) -> CallbackOutcome:
        outcome: CallbackOutcome = await self._submit(
            _Job(asyncio.get_running_loop().create_future(), callback=item)
        )
        return outcome

    async def submit(self, fn: JobFn) -> Any:
        return await self._submit(_Job(asyncio.get_running_loop().create_future(), fn=fn))

    async def _submit(self, job: _Job) -> Any:
        if self._task is None or self._task.done():
            raise RuntimeError("the relay's writer is not running")
        self._queue.put_nowait(job)
        # shield: a client hanging up must not cancel a write other requests share.
        return await asyncio.shield(job.future)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit(self, batch: list[_Job]) -> None:
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        await self._commit_part(batch)

    async def _commit_part(self, batch: list[_Job], *, tries: int = 0, waited_s: float = 0.0) -> None:
        for job in batch:
            job.effects = Effects()
        try:
            answers = await self._db.write(functools.partial(self._run_jobs, batch=batch))
        except Exception as error:
            if database_unavailable(error):
                # The database dropped the connection (restarted, its backend terminated) or cannot be
                # reached: no job is at fault, so none is set aside as failed (a genuine payment would
                # wait for a replay, and be acknowledged meanwhile). The batch runs again on a fresh
                # connection (the pool's pre-ping replaces a dead one) until the database is back or
                # `unavailable_wait_s` has passed; then every job is refused (503, never acknowledged).
                pause_s = RETRY_PAUSES_S[min(tries, len(RETRY_PAUSES_S) - 1)]
                if waited_s + pause_s <= self._unavailable_wait_s:
                    if tries == 0:
                        log.warning("database unavailable during a batch of %d; trying again", len(batch))
                    await asyncio.sleep(pause_s)
                    await self._commit_part(batch, tries=tries + 1, waited_s=waited_s + pause_s)
                    return
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(error)
                return
            if len(batch) == 1:
                await self._fail_alone(batch[0], error)
                return
            # Halving finds a failing job in log2(batch) extra transactions; the other jobs commit in
            # halves that do not hold it, instead of each in a transaction (and an fsync) of its own.
            log.warning("batch of %d failed (%s), retrying it in halves", len(batch), type(error).__name__)
            half = len(batch) // 2
            await self._commit_part(batch[:half])
            await self._commit_part(batch[half:])
            return
        effects = Effects()
        for job in batch:
            effects.merge(job.effects)
        self._announce(effects)
        for job, answer in zip(batch, answers, strict=True):
            if not job.future.done():
                job.future.set_result(answer)

    async def _fail_alone(self, job: _Job, error: Exception) -> None:
        """A job that fails in a transaction of its own: a callback is stored raw with the error."""
        if job.callback is None:
            if not job.future.done():
                job.future.set_exception(error)
            return
        if isinstance(error, sa.exc.DBAPIError):
            # Its text hides the statement's parameters; the driver's error it wraps does not (PostgreSQL's
            # "Failing row contains (…)" holds the payer's phone), so the traceback chain is not logged.
            log.error("callback processing failed; storing it raw for replay: %s", error)
        else:
            log.error("callback processing failed; storing it raw for replay", exc_info=error)
        message = f"{type(error).__name__}: {error}"
        try:
            answer = await self._db.write(functools.partial(store_raw_only, item=job.callback, error=message))
        except Exception as storage_error:
            if not job.future.done():
                job.future.set_exception(storage_error)
            return
        if not job.future.done():
            job.future.set_result(answer)

    def _run_jobs(self, connection: Connection, batch: list[_Job]) -> list[Any]:
        # No lock across instances here: feed rows are inserted last, under their tills' locks (relay.feed).
        postgres = connection.dialect.name == "postgresql"
        answers: list[Any] = [None] * len(batch)
        callbacks = [(index, job) for index, job in enumerate(batch) if job.callback is not None]
        if callbacks:
            outcomes, effects = process_callbacks(
                connection, [job.callback for _, job in callbacks if job.callback]
            )
            for (index, _job), outcome in zip(callbacks, outcomes, strict=True):
                answers[index] = outcome
            callbacks[0][1].effects = effects  # the batch's effects, announced once
        for index, job in enumerate(batch):
            if job.fn is not None:
                answers[index], job.effects = job.fn(connection)
        if postgres:
            effects = Effects()
            for job in batch:
                effects.merge(job.effects)
            notify_sql(connection, effects.changes())
        return answers

    def _announce(self, effects: Effects) -> None:
        try:
            self._on_committed(effects)
        except Exception:
            log.exception("announcing a commit failed")


# SQLSTATE classes of a database that is away rather than refusing this transaction: 08 connection
# exception, 57P operator intervention (57P01 admin shutdown, 57P03 cannot connect now: a server stopping
# or starting). https://www.postgresql.org/docs/current/errcodes-appendix.html
_UNAVAILABLE_SQLSTATES = ("08", "57P")


def database_unavailable(error: Exception) -> bool:
    """The connection was cut, or none could be opened; never a job's own failure."""
    if isinstance(error, OSError):  # asyncpg's connect raises the socket's error (refused, timed out)
        return True
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return error.connection_invalidated or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
