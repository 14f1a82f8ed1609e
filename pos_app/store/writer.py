"""The hot write path: one sqlite3 connection on one worker thread, so an attempt's whole
read → decide → write → audit runs as ONE hop off the event loop, in one `BEGIN IMMEDIATE` transaction.

Why not the async ORM session: through SQLAlchemy + aiosqlite every statement and the commit is its own
thread hop, ~7 ms per state change here, and 50 payments settling at once queued for 350 ms
(docs/stack-notes.md "SQLite and PostgreSQL" has the same cost on the relay side). `BEGIN IMMEDIATE`
takes SQLite's write lock before reading, so a second process on the same file (the window and a CLI
command) can never interleave between the read and the write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from daraja_core import utc_text
from pos_app.store.models import AuditEntry, PaymentAttempt, Sale

T = TypeVar("T")

ATTEMPT_COLUMNS = tuple(column.name for column in PaymentAttempt.__table__.columns)  # type: ignore[attr-defined]
DATETIME_COLUMNS = frozenset(
    {
        "created_at",
        "updated_at",
        "push_started_at",
        "prompt_sent_at",
        "settled_at",
        "wait_deadline_at",
        "manual_at",
    }
)
BOOL_COLUMNS = frozenset({"customer_confirmed_no_sms", "relay_registered", "demo", "manual_verified"})


def to_db(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text.encode(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


def row_to_attempt(row: sqlite3.Row) -> PaymentAttempt:
    values: dict[str, Any] = {}
    for name in ATTEMPT_COLUMNS:
        value = row[name]
        if value is not None and name in DATETIME_COLUMNS:
            value = utc_text.decode(value)
        elif value is not None and name in BOOL_COLUMNS:
            value = bool(value)
        values[name] = value
    return PaymentAttempt.model_construct(**values)


def select_attempt(connection: sqlite3.Connection, attempt_id: str) -> PaymentAttempt | None:
    row = connection.execute(
        f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM payment_attempts WHERE id = ?", (attempt_id,)
    ).fetchone()
    return None if row is None else row_to_attempt(row)


def select_attempt_where(connection: sqlite3.Connection, column: str, value: str) -> PaymentAttempt | None:
    if column not in ("checkout_request_id", "receipt"):
        raise ValueError(column)
    row = connection.execute(
        f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM payment_attempts WHERE {column} = ? LIMIT 1", (value,)
    ).fetchone()
    return None if row is None else row_to_attempt(row)


def select_attempts_of_sale(connection: sqlite3.Connection, sale_id: str) -> list[PaymentAttempt]:
    """The sale's attempts, oldest first, inside the caller's transaction."""
    rows = connection.execute(
        f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM payment_attempts "
        "WHERE sale_id = ? ORDER BY created_at, id",
        (sale_id,),
    ).fetchall()
    return [row_to_attempt(row) for row in rows]


def update_attempt(
    connection: sqlite3.Connection, row: PaymentAttempt, changes: dict[str, Any]
) -> PaymentAttempt:
    values = {**changes, "version": row.version + 1}
    assignments = ", ".join(f"{name} = ?" for name in values)
    connection.execute(
        f"UPDATE payment_attempts SET {assignments} WHERE id = ?",
        (*[to_db(v) for v in values.values()], row.id),
    )
    return row.model_copy(update=values)


def upsert_setting(connection: sqlite3.Connection, key: str, value: str, at: datetime) -> None:
    connection.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, to_db(at)),
    )


def insert_audit(connection: sqlite3.Connection, entry: AuditEntry) -> None:
    connection.execute(
        "INSERT INTO audit_trail (at, actor, action, attempt_id, sale_id, from_state, to_state, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            to_db(entry.at),
            entry.actor,
            entry.action,
            entry.attempt_id,
            entry.sale_id,
            entry.from_state,
            entry.to_state,
            entry.detail,
        ),
    )


def insert_attempt(connection: sqlite3.Connection, attempt: PaymentAttempt, sale: Sale | None) -> None:
    if sale is not None:
        connection.execute(
            "INSERT INTO sales (id, created_at, description, demo) VALUES (?, ?, ?, ?)",
            (sale.id, to_db(sale.created_at), sale.description, int(sale.demo)),
        )
    data = attempt.model_dump()
    names = [name for name in ATTEMPT_COLUMNS if name in data]
    connection.execute(
        f"INSERT INTO payment_attempts ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        tuple(to_db(data[name]) for name in names),
    )


class StoreWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="till-store-writer")
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
        return connection

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` in one transaction on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._transaction, work)

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` on the same thread without taking the write lock (WAL readers never wait)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: work(self._connection())
        )

    def _close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
