"""The one place an attempt changes: decide with the pure state machine, persist (row + audit entry in one
transaction), then announce to subscribers; nothing at all when the decision changes nothing
(Electrum's `set_request_status` does the same).

Announcements run on the event loop, after the commit, so a listener (the window, the CLI) can never show
a state the store does not hold.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from pos_app.engine.states import Decision, Event, IllegalTransition, Snapshot, State, decide
from pos_app.engine.views import AttemptView, view_of
from pos_app.store import writer
from pos_app.store.db import Store
from pos_app.store.models import AuditEntry, PaymentAttempt, Sale

log = logging.getLogger(__name__)

Listener = Callable[[AttemptView], None]
T = TypeVar("T")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def audit_entry(
    *,
    at: datetime,
    actor: str,
    action: str,
    attempt: PaymentAttempt | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        at=at,
        actor=actor,
        action=action,
        attempt_id=attempt.id if attempt else None,
        sale_id=attempt.sale_id if attempt else None,
        from_state=from_state,
        to_state=to_state,
        detail=json.dumps({k: _jsonable(v) for k, v in (detail or {}).items()}, sort_keys=True),
    )


class Ledger:
    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self._now = now
        self._listeners: list[Listener] = []

    # --- subscriptions -------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def announce(self, view: AttemptView) -> None:
        for listener in list(self._listeners):
            try:
                listener(view)
            except Exception:  # one broken listener must not stop the others or the engine
                log.exception("an attempt listener failed")

    async def wait_for(
        self, attempt_id: str, predicate: Callable[[AttemptView], bool], timeout_s: float | None = None
    ) -> AttemptView:
        """The attempt's view once `predicate` holds (checked now, then on every announcement)."""
        future: asyncio.Future[AttemptView] = asyncio.get_running_loop().create_future()

        def listener(view: AttemptView) -> None:
            if view.attempt_id == attempt_id and predicate(view) and not future.done():
                future.set_result(view)

        unsubscribe = self.subscribe(listener)
        try:
            row = await self.store.get_attempt(attempt_id)
            if row is not None and predicate(view_of(row)) and not future.done():
                return view_of(row)
            return await asyncio.wait_for(future, timeout_s)
        finally:
            unsubscribe()

    # --- changes -------------------------------------------------------------------------------------

    async def _stored_then_announced(self, change: Awaitable[T]) -> T:
        """Run `change` (a write, then its announcement) to the end even when the caller is cancelled:
        the write commits on the writer thread regardless, so its announcement must not be lost with the
        caller (the live wait cancels its workers at the deadline, possibly mid-write)."""
        task = asyncio.ensure_future(change)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return await asyncio.shield(task)

    async def create(
        self,
        sale: Sale | None,
        attempt: PaymentAttempt,
        *,
        actor: str,
        detail: dict[str, Any],
        check: Callable[[sqlite3.Connection], None] | None = None,
    ) -> AttemptView:
        """Store a new attempt (and its sale) with its audit row, in one transaction, then announce it.
        `check` runs first in the same transaction; what it raises stores nothing."""
        entry = audit_entry(
            at=attempt.created_at,
            actor=actor,
            action="created",
            attempt=attempt,
            to_state=attempt.state,
            detail=detail,
        )

        def work(connection: sqlite3.Connection) -> None:
            if check is not None:
                check(connection)
            writer.insert_attempt(connection, attempt, sale)
            writer.insert_audit(connection, entry)

        async def change() -> AttemptView:
            await self.store.write(work)
            view = view_of(attempt)
            self.announce(view)
            return view

        return await self._stored_then_announced(change())

    def _apply_in(
        self,
        connection: sqlite3.Connection,
        attempt_id: str,
        event: Event,
        actor: str,
        detail: dict[str, Any] | None,
        now: datetime,
    ) -> tuple[PaymentAttempt, PaymentAttempt | None, Decision]:
        """Read, decide and write one attempt inside the writer's transaction (no I/O but SQLite)."""
        row = writer.select_attempt(connection, attempt_id)
        if row is None:
            raise KeyError(attempt_id)
        snapshot = Snapshot(
            state=State(row.state),
            receipt=row.receipt,
            result_code=row.result_code,
            method=row.method,
            amount_kes=row.amount_kes,
            anomaly=row.anomaly,
        )
        decision = decide(snapshot, event)
        if not decision.changed:
            return row, None, decision
        changes = dict(decision.changes)
        if decision.state is State.PAID and row.state != State.PAID.value and not changes.get("anomaly"):
            # An unknown attempt can still turn paid after the cashier confirmed "no SMS" and charged the
            # sale again: the customer has then paid twice. The money moved, so this attempt is paid, but
            # the owner must see it to refund (nothing charged twice goes unnoticed).
            # The same when the cashier took cash for the sale meanwhile: `paid_after_cash`, the owner
            # refunds the M-Pesa payment or gives the cash back (cash.py).
            other = connection.execute(
                "SELECT id, method, amount_kes FROM payment_attempts WHERE sale_id = ? AND id != ? "
                "AND state = 'paid' ORDER BY method = 'cash' DESC LIMIT 1",
                (row.sale_id, row.id),
            ).fetchone()
            if other is not None and other[1] == "cash":
                changes["anomaly"] = "paid_after_cash"
                changes["anomaly_detail"] = (
                    f"the sale was paid in cash (KES {other[2]}, attempt {other[0]}) before this M-Pesa "
                    "payment came in: refund one"
                )
            elif other is not None:
                changes["anomaly"] = "sale_paid_twice"
                changes["anomaly_detail"] = f"attempt {other[0]} of the same sale is paid too: refund one"
        entry = audit_entry(
            at=changes.get("updated_at", now),
            actor=actor,
            action=decision.action or "update",
            attempt=row,
            from_state=row.state,
            to_state=decision.state,
            detail={**(detail or {}), **{k: v for k, v in changes.items() if k != "updated_at"}},
        )
        connection.execute("SAVEPOINT change")
        try:
            updated = writer.update_attempt(connection, row, changes)
        except sqlite3.IntegrityError:
            # The receipt is already on another attempt (unique index): keep the state change, hold the
            # receipt back as an anomaly for the owner rather than lose the result.
            connection.execute("ROLLBACK TO change")
            receipt = changes.pop("receipt", None)
            holder = connection.execute(
                "SELECT id FROM payment_attempts WHERE receipt = ?", (receipt,)
            ).fetchone()
            holder_id = holder[0] if holder else None
            changes["anomaly"] = "duplicate_receipt"
            changes["anomaly_detail"] = f"receipt {receipt} is already on attempt {holder_id or '?'}"
            updated = writer.update_attempt(connection, row, changes)
            entry = audit_entry(
                at=entry.at,
                actor=actor,
                action="duplicate_receipt",
                attempt=row,
                from_state=row.state,
                to_state=decision.state,
                detail={"receipt": receipt, "holder": holder_id},
            )
        connection.execute("RELEASE change")
        writer.insert_audit(connection, entry)
        return row, updated, decision

    def _announce_change(
        self, before: PaymentAttempt, updated: PaymentAttempt | None, decision: Decision
    ) -> AttemptView:
        if updated is None:
            return view_of(before)
        log.info(
            "attempt %s %s → %s (%s)", before.id, before.state, updated.state, decision.action or "update"
        )
        view = view_of(updated)
        self.announce(view)
        return view

    async def write_then_announce(
        self, work: Callable[[sqlite3.Connection], tuple[PaymentAttempt, bool]]
    ) -> AttemptView:
        """`work` in one write transaction (it reads, checks and inserts with its audit row); the row it
        returns is announced when `work` says it wrote it (a repeat returns the stored row unannounced)."""

        async def change() -> AttemptView:
            row, written = await self.store.write(work)
            view = view_of(row)
            if written:
                self.announce(view)
            return view

        return await self._stored_then_announced(change())

    async def apply(
        self, attempt_id: str, event: Event, *, actor: str, detail: dict[str, Any] | None = None
    ) -> AttemptView:
        """Decide, persist, announce. Returns the current view, changed or not. Raises IllegalTransition.

        Read, decision and write happen in one transaction on the store's writer thread, so nothing (no
        other task, no other process) can change the attempt between the read and the write.
        """
        now = self._now()

        async def change() -> AttemptView:
            before, updated, decision = await self.store.write(
                lambda connection: self._apply_in(connection, attempt_id, event, actor, detail, now)
            )
            return self._announce_change(before, updated, decision)

        return await self._stored_then_announced(change())

    async def apply_many(
        self, changes: list[tuple[str, Event, str, dict[str, Any] | None]]
    ) -> list[AttemptView | Exception]:
        """Several attempts in ONE transaction (a page of the relay's feed), then each announced. An
        attempt whose event is illegal is reported in place and does not stop the others."""
        now = self._now()

        def work(connection: sqlite3.Connection) -> list[Any]:
            results: list[Any] = []
            for attempt_id, event, actor, detail in changes:
                try:
                    results.append(self._apply_in(connection, attempt_id, event, actor, detail, now))
                except (IllegalTransition, KeyError) as error:
                    results.append(error)
            return results

        async def change() -> list[AttemptView | Exception]:
            outcomes = await self.store.write(work)
            return [o if isinstance(o, Exception) else self._announce_change(*o) for o in outcomes]

        return await self._stored_then_announced(change())

    async def note(
        self,
        attempt_id: str,
        changes: dict[str, Any],
        *,
        actor: str,
        action: str,
        detail: dict[str, Any] | None = None,
        announce: bool = False,
    ) -> AttemptView | None:
        """A bookkeeping change that is not a state move (e.g. registered with the relay): persisted with
        its audit entry, announced only when asked (when it changes what a listener shows)."""
        now = self._now()

        def work(connection: sqlite3.Connection) -> PaymentAttempt | None:
            row = writer.select_attempt(connection, attempt_id)
            if row is None:
                raise KeyError(attempt_id)
            if all(getattr(row, key) == value for key, value in changes.items()):
                return None
            updated = writer.update_attempt(connection, row, changes)
            writer.insert_audit(
                connection,
                audit_entry(
                    at=now,
                    actor=actor,
                    action=action,
                    attempt=row,
                    from_state=row.state,
                    to_state=row.state,
                    detail={**(detail or {}), **changes},
                ),
            )
            return updated

        async def change() -> AttemptView | None:
            updated = await self.store.write(work)
            if updated is None:
                return None
            view = view_of(updated)
            if announce:
                self.announce(view)
            return view

        return await self._stored_then_announced(change())


__all__ = ["IllegalTransition", "Ledger", "Listener", "audit_entry"]
