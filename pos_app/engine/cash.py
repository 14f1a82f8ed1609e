"""Cash, a tender like M-Pesa: the cashier takes cash for the open sale at any moment (before charging, or
after a failed or unknown prompt), and the sale is paid.

Taking cash is stored as a paid attempt with method `cash` (no phone, no receipt), with its `cash_taken`
audit row, in ONE write transaction that first reads the sale's other attempts, so:
- taking cash twice for a sale never counts twice: the second time returns the cash already taken (the
  store's partial unique index, revision 0005, holds the same line for a second process on the file);
- a sale already paid (by M-Pesa, a payment to the till number, a verified receipt) is refused, naming how;
- a sale whose prompt is still on the customer's phone is refused: that payment may still succeed, so the
  cashier waits for it (or, after the deadline, it is unknown and cash may be taken).
An unknown M-Pesa attempt of the sale that turns out paid later is flagged `paid_after_cash` by the ledger
(ledger.py), like `sale_paid_twice`, for the owner to refund one of the two.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

from pos_app.engine.charging import new_id
from pos_app.engine.errors import TillError
from pos_app.engine.ledger import Ledger, audit_entry
from pos_app.engine.states import IN_FLIGHT_STATES, Method, State
from pos_app.engine.views import AttemptView
from pos_app.store import writer
from pos_app.store.models import PaymentAttempt, Sale


class CashRefused(TillError):
    """Cash cannot settle this sale: it is paid already, a prompt is still waiting, or the amount is wrong."""


def counts_as_paid(row: PaymentAttempt) -> bool:
    """Paid money: a typed receipt the relay could not confirm is not (it is held apart, to check)."""
    return row.state == State.PAID and not (row.method == Method.MANUAL and not row.manual_verified)


def _already_paid(sale_id: str, row: PaymentAttempt) -> CashRefused:
    if row.method == Method.CASH:
        return CashRefused(f"Sale {sale_id} is already paid in cash (KES {row.amount_kes}).")
    if row.method == Method.C2B:
        return CashRefused(f"Sale {sale_id} is already paid to the till number ({row.receipt}).")
    return CashRefused(f"Sale {sale_id} is already paid by M-Pesa.")


class Cash:
    def __init__(self, *, ledger: Ledger, now: Callable[[], datetime], demo: bool = False) -> None:
        self.ledger = ledger
        self._now = now
        self._demo = demo

    async def take(
        self, amount_kes: int, *, sale_id: str | None = None, description: str = "", actor: str = "cashier"
    ) -> AttemptView:
        """The sale paid in cash (a new sale when `sale_id` is None). CashRefused with the reason."""
        if isinstance(amount_kes, bool) or not isinstance(amount_kes, int) or amount_kes < 1:
            raise CashRefused("Cash is taken in whole shillings, at least KES 1.")
        now = self._now()
        sale_key = (sale_id or "").strip() or new_id("S", 9)
        attempt = PaymentAttempt(
            id=new_id("A", 11),
            sale_id=sale_key,
            amount_kes=amount_kes,
            phone="",
            description=description,
            state=State.PAID,
            outcome="paid",
            method=Method.CASH,
            created_at=now,
            updated_at=now,
            settled_at=now,
            demo=self._demo,
        )

        def work(connection: sqlite3.Connection) -> tuple[PaymentAttempt, bool]:
            rows = writer.select_attempts_of_sale(connection, sale_key)
            for row in rows:
                if row.method == Method.CASH and row.amount_kes == amount_kes:
                    return row, False  # taken already: the same cash, counted once
            for row in rows:
                if counts_as_paid(row):
                    raise _already_paid(sale_key, row)
            if any(row.state in IN_FLIGHT_STATES for row in rows):
                raise CashRefused(
                    "A payment is still waiting on the customer's phone: wait for it or check it."
                )
            sale_exists = connection.execute("SELECT 1 FROM sales WHERE id = ?", (sale_key,)).fetchone()
            sale = (
                None
                if sale_exists
                else Sale(id=sale_key, created_at=now, description=description, demo=self._demo)
            )
            writer.insert_attempt(connection, attempt, sale)
            writer.insert_audit(
                connection,
                audit_entry(
                    at=now,
                    actor=actor,
                    action="cash_taken",
                    attempt=attempt,
                    to_state=State.PAID,
                    detail={
                        "amount_kes": amount_kes,
                        "method": Method.CASH,
                        "demo": self._demo,
                        # The M-Pesa attempts of the sale that did not pay it, for the owner's trail.
                        "after": ",".join(f"{row.id}:{row.state}" for row in rows),
                    },
                ),
            )
            return attempt, True

        return await self.ledger.write_then_announce(work)
