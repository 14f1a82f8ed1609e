"""Driver-level SQL for the callback hot path, on SQLite and PostgreSQL alike.

SQLAlchemy Core costs tens of microseconds per row in parameter and result processing; on the intake
path, which the writer runs for every callback, that was most of the time (benchmarks/relay_bench.py).
These few statements go straight to the DB-API cursor (`exec_driver_sql`, `executemany`), with the
two differences between the databases handled here: placeholders (`?` vs `$1`) and datetimes (SQLite
keeps SQLAlchemy's naive-UTC text form, which the Core reads of relay/models.py parse back; PostgreSQL
takes aware datetimes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection, CursorResult

from daraja_core import utc_text

_PLACEHOLDER = re.compile(r"\?")


class Rows:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self._sql_cache: dict[str, str] = {}

    def _sql(self, text: str) -> str:
        if not self.postgres:
            return text
        cached = self._sql_cache.get(text)
        if cached is None:
            counter = iter(range(1, 10_000))
            cached = _PLACEHOLDER.sub(lambda _match: f"${next(counter)}", text)
            self._sql_cache[text] = cached
        return cached

    def dt_in(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return value.astimezone(UTC) if self.postgres else utc_text.encode(value)

    def dt_out(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return utc_text.decode(value)
        if not isinstance(value, datetime):
            raise TypeError(f"a timestamp column held {type(value).__name__}, not a datetime or ISO text")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.connection.exec_driver_sql(self._sql(sql), list(rows))

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.connection.exec_driver_sql(self._sql(sql), params).scalar()

    def first(
        self, sql: str, params: tuple[Any, ...] = (), datetimes: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """The first row of a `SELECT`, as a dict (its `datetimes` columns as aware UTC), or None."""
        rows = self.all(sql, params, datetimes)
        return rows[0] if rows else None

    def all(
        self, sql: str, params: tuple[Any, ...] = (), datetimes: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """The rows of a `SELECT`, as dicts (their `datetimes` columns as aware UTC)."""
        return self._dicts(self.connection.exec_driver_sql(self._sql(sql), params), datetimes)

    def _dicts(self, result: CursorResult[Any], datetimes: Iterable[str]) -> list[dict[str, Any]]:
        keys = list(result.keys())
        rows = [dict(zip(keys, row, strict=True)) for row in result]
        for name in datetimes:
            for row in rows:
                row[name] = self.dt_out(row[name])
        return rows

    def select_in(
        self, sql_before_in: str, values: Iterable[Any], datetimes: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """`SELECT … WHERE column` + ` IN (…)` (SQLite) or ` = ANY($1)` (PostgreSQL), as dicts."""
        values = list(values)
        if not values:
            return []
        if self.postgres:
            result = self.connection.exec_driver_sql(self._sql(sql_before_in + " = ANY(?)"), (values,))
        else:
            marks = ",".join("?" * len(values))
            result = self.connection.exec_driver_sql(f"{sql_before_in} IN ({marks})", tuple(values))
        return self._dicts(result, datetimes)

    def next_ids(self, table: str, count: int) -> list[int]:
        """Ids for `count` new rows, reserved inside this write transaction.

        SQLite: the writer holds the write lock from BEGIN IMMEDIATE, so nobody else inserts before our
        commit and max(id)+1… are ours. PostgreSQL: draw them from the table's sequence.
        """
        if self.postgres:
            result = self.connection.exec_driver_sql(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)",
                (count,),
            )
            return [int(row[0]) for row in result]
        start = int(self.one(f"SELECT coalesce(max(id), 0) FROM {table}"))
        return list(range(start + 1, start + count + 1))
