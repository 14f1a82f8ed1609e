"""The till's store: one SQLite file in MPESA_TILL_HOME. Attempt changes, look-ups by id and the feed
cursor go through the single writer thread (writer.py: one hop, one BEGIN IMMEDIATE transaction each);
lists, reports and settings go through SQLAlchemy's async engine on aiosqlite. Both are safe beside a
second process on the same file (the window and a headless `mpesa-till` command).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import and_, event, or_, update
from sqlalchemy import func as sa_func
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from pos_app.store import migrate
from pos_app.store import writer as writer_sql
from pos_app.store.models import AuditEntry, C2bPaymentRow, OpenQrRow, PaymentAttempt, Sale, Setting
from pos_app.store.writer import StoreWriter

T = TypeVar("T")

UNSETTLED_STATES = ("created", "prompt_sent", "unknown")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the window read while a payment is written; FULL syncs each commit so a power cut
    # after "paid" was shown cannot roll it back; busy_timeout waits for another process's write.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _c2b_fields(row: C2bPaymentRow) -> tuple[object, ...]:
    """A C2B payment's columns from trans_id to received_at, as both ways of storing one write them."""
    return (
        row.trans_id,
        row.amount_kes,
        row.first_name,
        row.phone,
        row.bill_ref,
        row.shortcode,
        writer_sql.to_db(row.paid_at),
        writer_sql.to_db(row.received_at),
    )


class Store:
    def __init__(self, path: Path, engine: AsyncEngine) -> None:
        self.path = path
        self._engine = engine
        self._writer = StoreWriter(path)
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        # One writer at a time inside this process: SQLite allows one anyway, and a second connection that
        # finds the file locked sleeps in SQLite's busy handler (tens of ms each time) instead of queueing.
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        await asyncio.to_thread(migrate.upgrade, path)
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return cls(path, engine)

    async def close(self) -> None:
        await self._writer.close()
        await self._engine.dispose()

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(connection)` in one BEGIN IMMEDIATE transaction on the writer thread (writer.py)."""
        return await self._writer.run(work)

    # --- sales and attempts -------------------------------------------------------------------------

    async def insert_attempt(
        self, attempt: PaymentAttempt, audit: AuditEntry, sale: Sale | None = None
    ) -> None:
        async with self._write_lock, self._sessions() as session, session.begin():
            if sale is not None:
                session.add(sale)
                await session.flush()
            session.add(attempt)
            session.add(audit)

    async def get_sale(self, sale_id: str) -> Sale | None:
        async with self._sessions() as session:
            return await session.get(Sale, sale_id)

    async def get_attempt(self, attempt_id: str) -> PaymentAttempt | None:
        return await self._writer.read(lambda connection: writer_sql.select_attempt(connection, attempt_id))

    async def attempt_with_receipt(self, receipt: str) -> PaymentAttempt | None:
        return await self._writer.read(
            lambda connection: writer_sql.select_attempt_where(connection, "receipt", receipt)
        )

    async def alert_counts(self, *, since: datetime, pending_before: datetime) -> tuple[int, int]:
        """(attempts still waiting or unknown since before `pending_before` whose sale is not paid by
        another attempt, attempts with an anomaly),
        among those created after `since`: two counts, no rows loaded (the window asks every few seconds)."""

        def count(connection: sqlite3.Connection) -> tuple[int, int]:
            row = connection.execute(
                "SELECT "
                "SUM(CASE WHEN state IN ('prompt_sent', 'unknown') AND created_at < ? AND NOT EXISTS ("
                # An attempt of a sale another attempt paid (not a typed receipt still to check) is
                # resolved: the alert ends when what it warns about is.
                "SELECT 1 FROM payment_attempts AS paid WHERE paid.sale_id = payment_attempts.sale_id "
                "AND paid.state = 'paid' "
                "AND NOT (paid.method = 'manual' AND NOT COALESCE(paid.manual_verified, 0))"
                ") THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN anomaly IS NOT NULL THEN 1 ELSE 0 END) "
                "FROM payment_attempts WHERE created_at >= ?",
                (writer_sql.to_db(pending_before), writer_sql.to_db(since)),
            ).fetchone()
            return int(row[0] or 0), int(row[1] or 0)

        return await self._writer.read(count)

    async def anomaly_count(self, anomaly: str, *, since: datetime) -> int:
        """Attempts created after `since` flagged with `anomaly` (e.g. `paid_after_cash`)."""

        def count(connection: sqlite3.Connection) -> int:
            row = connection.execute(
                "SELECT COUNT(*) FROM payment_attempts WHERE anomaly = ? AND created_at >= ?",
                (anomaly, writer_sql.to_db(since)),
            ).fetchone()
            return int(row[0] or 0)

        return await self._writer.read(count)

    async def put_setting(self, key: str, value: str, at: datetime) -> None:
        """One setting, on the fast path (the relay feed's cursor is written after every page)."""
        await self._writer.run(lambda connection: writer_sql.upsert_setting(connection, key, value, at))

    async def attempts_for_sale(self, sale_id: str) -> list[PaymentAttempt]:
        async with self._sessions() as session:
            result = await session.exec(
                select(PaymentAttempt)
                .where(PaymentAttempt.sale_id == sale_id)
                .order_by(col(PaymentAttempt.created_at), col(PaymentAttempt.id))
            )
            return list(result.all())

    async def unsettled_attempts(self) -> list[PaymentAttempt]:
        """Attempts the engine still works on: in flight or unknown, or paid by STK Query and still
        waiting for the callback's receipt number (STK Query gives none, docs/daraja.md §3)."""
        async with self._sessions() as session:
            result = await session.exec(
                select(PaymentAttempt)
                .where(
                    or_(
                        col(PaymentAttempt.state).in_(UNSETTLED_STATES),
                        and_(col(PaymentAttempt.state) == "paid", col(PaymentAttempt.receipt).is_(None)),
                        and_(
                            col(PaymentAttempt.checkout_request_id).is_not(None),
                            col(PaymentAttempt.relay_registered).is_(False),
                            col(PaymentAttempt.state) != "failed",
                        ),
                    )
                )
                .order_by(col(PaymentAttempt.created_at))
            )
            return list(result.all())

    async def paid_attempts_with_reason(self, reason: str, *, since: datetime) -> list[PaymentAttempt]:
        """Paid attempts created after `since` whose reason is `reason` (e.g. settled from an orphan)."""
        async with self._sessions() as session:
            result = await session.exec(
                select(PaymentAttempt).where(
                    col(PaymentAttempt.state) == "paid",
                    col(PaymentAttempt.reason) == reason,
                    col(PaymentAttempt.created_at) >= since,
                )
            )
            return list(result.all())

    async def attempts_created_between(self, start: datetime, end: datetime) -> list[PaymentAttempt]:
        async with self._sessions() as session:
            result = await session.exec(
                select(PaymentAttempt)
                .where(col(PaymentAttempt.created_at) >= start, col(PaymentAttempt.created_at) < end)
                .order_by(col(PaymentAttempt.created_at).desc(), col(PaymentAttempt.id).desc())
            )
            return list(result.all())

    async def update_attempt(
        self,
        attempt_id: str,
        expected_version: int,
        changes: dict[str, Any],
        audit: AuditEntry | None,
        *,
        current: PaymentAttempt | None = None,
    ) -> PaymentAttempt | None:
        """Apply `changes` if the row is still at `expected_version`; None when someone else wrote first.

        The audit entry is written in the same transaction: a state change without its audit row (or the
        other way round) cannot exist.
        """
        values = {**changes, "version": expected_version + 1}
        async with self._write_lock, self._sessions() as session, session.begin():
            result = await session.exec(
                update(PaymentAttempt)
                .where(col(PaymentAttempt.id) == attempt_id, col(PaymentAttempt.version) == expected_version)
                .values(**values)
            )
            if result.rowcount != 1:
                return None
            if audit is not None:
                session.add(audit)
        if current is not None:  # the row as it now is, without reading it back
            return current.model_copy(update=values)
        return await self.get_attempt(attempt_id)

    # --- C2B payments to the shop (the relay's feed) -------------------------------------------------

    async def put_c2b_payments(self, rows: list[C2bPaymentRow]) -> None:
        """Keep the feed's C2B payments: a TransID seen before only updates who holds it (the feed repeats
        a payment on every claim and release), so none is counted twice. The relay's word replaces what
        Pull Transactions said, except a claim of this till the relay has not been told yet."""

        def work(connection: sqlite3.Connection) -> None:
            connection.executemany(
                "INSERT INTO c2b_payments (trans_id, amount_kes, first_name, phone, bill_ref, shortcode, "
                "paid_at, received_at, claimed_by, updated_at, source, claim_pending) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'relay', 0) "
                "ON CONFLICT(trans_id) DO UPDATE SET "
                "claimed_by = CASE WHEN c2b_payments.claim_pending THEN c2b_payments.claimed_by "
                "ELSE excluded.claimed_by END, "
                "first_name = CASE WHEN c2b_payments.source = 'pull' THEN excluded.first_name "
                "ELSE c2b_payments.first_name END, "
                "phone = CASE WHEN c2b_payments.source = 'pull' THEN excluded.phone "
                "ELSE c2b_payments.phone END, "
                "source = 'relay', updated_at = excluded.updated_at",
                [(*_c2b_fields(row), row.claimed_by, writer_sql.to_db(row.updated_at)) for row in rows],
            )

        await self._writer.run(work)

    async def put_pulled_payments(self, rows: list[C2bPaymentRow]) -> int:
        """Keep payments Pull Transactions reported; a TransID the till knows already (from the relay or
        an earlier pull) is left as it is. Returns how many were new."""

        def work(connection: sqlite3.Connection) -> int:
            before = connection.total_changes
            connection.executemany(
                "INSERT INTO c2b_payments (trans_id, amount_kes, first_name, phone, bill_ref, shortcode, "
                "paid_at, received_at, claimed_by, updated_at, source, claim_pending) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, 'pull', 0) ON CONFLICT(trans_id) DO NOTHING",
                [(*_c2b_fields(row), writer_sql.to_db(row.updated_at)) for row in rows],
            )
            return connection.total_changes - before

        return await self._writer.run(work)

    async def claim_c2b_locally(self, trans_id: str, sale_id: str, at: datetime) -> bool:
        """Mark an unclaimed payment claimed by `sale_id`, to be told to the relay later; False when taken."""

        def work(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE c2b_payments SET claimed_by = ?, claim_pending = 1, updated_at = ? "
                "WHERE trans_id = ? AND claimed_by IS NULL",
                (sale_id, writer_sql.to_db(at), trans_id),
            )
            return cursor.rowcount == 1

        return await self._writer.run(work)

    async def settle_c2b_claim(self, trans_id: str, claimed_by: str | None, at: datetime) -> None:
        """The relay's answer to a claim this till made alone: who holds the payment now; not pending."""

        def work(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE c2b_payments SET claimed_by = ?, claim_pending = 0, updated_at = ? "
                "WHERE trans_id = ?",
                (claimed_by, writer_sql.to_db(at), trans_id),
            )

        await self._writer.run(work)

    async def pending_c2b_claims(self) -> list[C2bPaymentRow]:
        async with self._sessions() as session:
            result = await session.exec(
                select(C2bPaymentRow).where(col(C2bPaymentRow.claim_pending).is_(True))
            )
            return list(result.all())

    async def c2b_payments(
        self,
        *,
        unclaimed_only: bool = False,
        paid_between: tuple[datetime, datetime] | None = None,
        bill_refs: Collection[str] = (),
    ) -> list[C2bPaymentRow]:
        """The shop's C2B payments this till has seen, newest first: paid in [start, end) when given; with
        `bill_refs`, only those whose account number is one of them (spaces and letter case aside: a QR
        sale's reference)."""
        async with self._sessions() as session:
            query = select(C2bPaymentRow)
            if unclaimed_only:
                query = query.where(col(C2bPaymentRow.claimed_by).is_(None))
            if paid_between is not None:
                start, end = paid_between
                query = query.where(col(C2bPaymentRow.paid_at) >= start, col(C2bPaymentRow.paid_at) < end)
            if bill_refs:
                wanted = [ref.strip().upper() for ref in bill_refs]
                query = query.where(sa_func.upper(sa_func.trim(col(C2bPaymentRow.bill_ref))).in_(wanted))
            result = await session.exec(
                query.order_by(col(C2bPaymentRow.paid_at).desc(), col(C2bPaymentRow.trans_id))
            )
            return list(result.all())

    async def get_c2b_payment(self, trans_id: str) -> C2bPaymentRow | None:
        async with self._sessions() as session:
            return await session.get(C2bPaymentRow, trans_id)

    # --- open QR codes (pos_app/engine/qr_tender.py) ---------------------------------------------------

    async def open_qr(self, row: OpenQrRow) -> None:
        """Keep a QR shown for a sale as open; a sale's QR shown again replaces its earlier one."""

        def work(connection: sqlite3.Connection) -> None:
            connection.execute(
                "INSERT INTO open_qr_codes (sale_id, amount_kes, reference, request_id, shown_at, closed_at, "
                "closed_why) VALUES (?, ?, ?, ?, ?, NULL, NULL) ON CONFLICT(sale_id) DO UPDATE SET "
                "amount_kes = excluded.amount_kes, reference = excluded.reference, "
                "request_id = excluded.request_id, shown_at = excluded.shown_at, "
                "closed_at = NULL, closed_why = NULL",
                (row.sale_id, row.amount_kes, row.reference, row.request_id, writer_sql.to_db(row.shown_at)),
            )

        await self._writer.run(work)

    async def close_qr(self, sale_id: str, why: str, at: datetime) -> bool:
        """Close the sale's open QR, saying why; False when it was not open (closed already, or never)."""

        def work(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE open_qr_codes SET closed_at = ?, closed_why = ? "
                "WHERE sale_id = ? AND closed_at IS NULL",
                (writer_sql.to_db(at), why, sale_id),
            )
            return cursor.rowcount == 1

        return await self._writer.run(work)

    async def qr_codes(self, *, open_only: bool = False) -> list[OpenQrRow]:
        """The QR codes shown (the open ones only, when asked), oldest first."""
        async with self._sessions() as session:
            query = select(OpenQrRow)
            if open_only:
                query = query.where(col(OpenQrRow.closed_at).is_(None))
            result = await session.exec(query.order_by(col(OpenQrRow.shown_at), col(OpenQrRow.sale_id)))
            return list(result.all())

    # --- audit trail ---------------------------------------------------------------------------------

    async def append_audit(self, entries: Iterable[AuditEntry]) -> None:
        async with self._write_lock, self._sessions() as session, session.begin():
            session.add_all(list(entries))

    async def audit_for(self, attempt_id: str) -> list[AuditEntry]:
        async with self._sessions() as session:
            result = await session.exec(
                select(AuditEntry).where(AuditEntry.attempt_id == attempt_id).order_by(col(AuditEntry.id))
            )
            return list(result.all())

    # --- settings ------------------------------------------------------------------------------------

    async def settings(self) -> dict[str, str]:
        async with self._sessions() as session:
            result = await session.exec(select(Setting))
            return {row.key: row.value for row in result.all()}

    async def get_setting(self, key: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(Setting, key)
            return None if row is None else row.value

    async def set_settings(
        self, values: dict[str, str | None], at: datetime, audit: AuditEntry | None
    ) -> None:
        """Upsert (None deletes) several settings in one transaction, with their audit row."""
        async with self._write_lock, self._sessions() as session, session.begin():
            for key, value in values.items():
                row = await session.get(Setting, key)
                if value is None:
                    if row is not None:
                        await session.delete(row)
                elif row is None:
                    session.add(Setting(key=key, value=value, updated_at=at))
                else:
                    row.value = value
                    row.updated_at = at
                    session.add(row)
            if audit is not None:
                session.add(audit)
