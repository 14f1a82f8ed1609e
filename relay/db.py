"""Database access: one API for SQLite (default) and PostgreSQL (several instances).

All queries are written once, as plain synchronous SQLAlchemy against a `Connection`, and run through
`Database.read(fn)` / `Database.write(fn)`:
- SQLite: a blocking pysqlite connection in a worker thread, one thread hop per call (each statement
  through aiosqlite would hop on its own, which is what makes async SQLite slow: docs/stack-notes.md
  "SQLite and PostgreSQL").
- PostgreSQL: asyncpg through SQLAlchemy's async engine, `run_sync` on the loop.

SQLite runs in WAL mode with `synchronous=FULL`: a commit is on disk before the relay answers Safaricom
(NORMAL could lose the last commits on power loss, and Safaricom does not resend). Group commit makes
the extra fsync cheap: one per batch, not one per callback.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from relay import feed
from relay.reads import IN_FLIGHT_POSTGRES, IN_FLIGHT_SQLITE, ReadGroups

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000
# How long a WAL restart waits for the readers still reading the old log (each read takes milliseconds);
# the writer waits with it, so it is short. Not restarted this time, the WAL restarts at the next one.
RESTART_WAIT_MS = 50
# The restart is for a WAL that grows: below this many frames (4 MiB of 4 KiB pages) the log is left alone,
# and a quiet relay never holds its writer for one.
RESTART_AFTER_FRAMES = 1024


def normalise_url(database_url: str) -> URL:
    """Accept the async URLs (`sqlite+aiosqlite`, `postgresql+asyncpg`) and the bare ones."""
    url = make_url(database_url)
    if url.drivername in ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    if url.drivername in ("postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg"):
        return url.set(drivername="postgresql+asyncpg")
    raise ValueError(
        f"DATABASE_URL must be sqlite+aiosqlite://… or postgresql+asyncpg://…, not {url.drivername}"
    )


def asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_path(url: URL) -> Path | None:
    if url.database in (None, "", ":memory:"):
        return None
    return Path(url.database or "")


def _sqlite_engine(url: URL, *, writer: bool) -> Engine:
    sync_url = url.set(drivername="sqlite+pysqlite")
    engine = sa.create_engine(
        sync_url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=1 if writer else 8,
        max_overflow=0 if writer else 8,
        # Errors are logged and stored with raw callbacks: their text must not carry bodies or phones.
        hide_parameters=True,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions into our own hands (pysqlite's implicit BEGIN breaks BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if writer:
            # Checkpoints run from Database.checkpoint() off the commit path, not inside a commit.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # The writer takes the write lock up front: a deferred transaction that reads first and writes
        # later can fail with SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


class Database:
    def __init__(self, database_url: str) -> None:
        self.url = normalise_url(database_url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._sync_reader: Engine | None = None
        self._sync_writer: Engine | None = None
        self._async: AsyncEngine | None = None
        self._async_writer: AsyncEngine | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        # The till API's reads, grouped into shared round trips under load (relay/reads.py).
        self.grouped = ReadGroups(self.read, IN_FLIGHT_SQLITE if self.is_sqlite else IN_FLIGHT_POSTGRES)
        if self.is_sqlite:
            path = sqlite_path(self.url)
            if path is None:
                raise ValueError("the relay needs a SQLite file, not an in-memory database")
            path.parent.mkdir(parents=True, exist_ok=True)
            self._sync_reader = _sqlite_engine(self.url, writer=False)
            self._sync_writer = _sqlite_engine(self.url, writer=True)
        else:
            # Reads run in autocommit: no BEGIN and ROLLBACK round trips around each, so a long-poll's read
            # holds a pooled connection for less time (at 2,000 long-polls the pool's queue set the latency).
            self._async = create_async_engine(
                self.url,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                hide_parameters=True,
                isolation_level="AUTOCOMMIT",
            )
            # The writer's own connections: with thousands of long-polls reading, the read pool's queue
            # must not hold up a commit (it did: the writer's batches timed out waiting for a connection).
            self._async_writer = create_async_engine(
                self.url, pool_size=2, max_overflow=0, pool_pre_ping=True, hide_parameters=True
            )

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        if self._sync_reader is not None:
            engine = self._sync_reader

            def run() -> T:
                with engine.connect() as connection:
                    try:
                        return fn(connection)
                    finally:
                        connection.rollback()

            return await asyncio.to_thread(run)
        async with self._async_engine().connect() as async_connection:
            return await async_connection.run_sync(fn)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn` in one transaction; it is committed (and durable) when this returns. The feed rows it
        appended are inserted last, under their tills' locks (`relay.feed`)."""
        fn = functools.partial(feed.in_transaction, fn)
        if self._sync_writer is not None:
            engine = self._sync_writer

            def run() -> T:
                with engine.begin() as connection:
                    return fn(connection)

            return await asyncio.get_running_loop().run_in_executor(self._writer_thread(), run)
        async with self._async_engine(self._async_writer).begin() as async_connection:
            return await async_connection.run_sync(fn)

    def _writer_thread(self) -> ThreadPoolExecutor:
        # A thread of its own: a commit never queues behind long-polls' reads in the shared pool.
        if self._write_thread is None:
            self._write_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-write")
        return self._write_thread

    def _async_engine(self, engine: AsyncEngine | None = None) -> AsyncEngine:
        # __init__ opens either the SQLite engines or these; reaching here with neither is a bug.
        engine = engine or self._async
        if engine is None:
            raise RuntimeError(f"no database engine is open for {self.dialect}")
        return engine

    async def checkpoint(self) -> None:
        """Copy the WAL back into the database file and start it again from its beginning (SQLite only).

        Two steps. A PASSIVE checkpoint on a reader's connection copies what it can without blocking the
        writer. Then, on the writer's own thread (so no write is under way), a RESTART copies the few
        frames committed meanwhile and waits at most `RESTART_WAIT_MS` for the readers still on the old
        log to finish; the next commit then writes from the start of the WAL. Without the restart the
        WAL never rewinds while long-polls keep reading (some reader always holds a snapshot in it): it
        grew past 300 MB in 30 s at 200 callbacks/s, and every read slowed with it (docs/stack-notes.md
        "SQLite and PostgreSQL").
        """
        if self._sync_reader is None or self._sync_writer is None:
            return
        reader, writer = self._sync_reader, self._sync_writer

        def passive() -> int:
            """Frames in the WAL. Outside any transaction: a checkpoint cannot run inside one."""
            connection = reader.raw_connection()
            try:
                _busy, frames, _copied = (
                    connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                )
                return int(frames)
            finally:
                connection.close()

        def restart() -> None:
            connection = writer.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                try:
                    cursor.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                finally:
                    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            finally:
                connection.close()

        if await asyncio.to_thread(passive) >= RESTART_AFTER_FRAMES:
            await asyncio.get_running_loop().run_in_executor(self._writer_thread(), restart)

    async def ping(self) -> None:
        await self.read(lambda connection: connection.execute(sa.text("SELECT 1")).scalar_one())

    async def dispose(self) -> None:
        if self._write_thread is not None:
            self._write_thread.shutdown(wait=False)
            self._write_thread = None
        for engine in (self._sync_reader, self._sync_writer):
            if engine is not None:
                engine.dispose()
        for async_engine in (self._async, self._async_writer):
            if async_engine is not None:
                await async_engine.dispose()
