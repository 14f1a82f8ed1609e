"""Checking the customer's M-Pesa message: the cashier types the receipt code from the customer's SMS and
learns whether this till's shop really received that payment, and whether a sale already took it.

The relay answers for the STK payments of this till and the C2B payments to its shop (docs/daraja.md §6,
§7); the till's own store knows the receipts its sales took (STK results, manual receipts). When the relay
cannot be asked the answer is CANNOT_CHECK, never NOT_RECEIVED: "not received" tells the cashier to keep
the goods, so it is said only when the relay was asked and has no such payment.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from daraja_core.contract import parse_wire_time
from pos_app.engine.errors import ReceiptRefused
from pos_app.engine.manual_receipts import RECEIPT_PATTERN
from pos_app.engine.relay_client import RelayClient, RelayError
from pos_app.store.db import Store
from pos_app.store.models import PaymentAttempt


class Verdict(enum.StrEnum):
    GENUINE_FREE = "genuine_free"  # the shop received it and no sale has taken it
    GENUINE_USED = "genuine_used"  # received, but sale `sale_id` already took it
    NOT_RECEIVED = "not_received"  # the relay was asked and has no payment with this receipt
    CANNOT_CHECK = "cannot_check"  # the relay could not be asked: `reason` says why


@dataclass(frozen=True)
class MessageCheck:
    verdict: Verdict
    receipt: str
    amount_kes: int | None = None
    paid_at: datetime | None = None
    name: str = ""  # the payer's first name as Safaricom sent it (C2B only)
    sale_id: str | None = None  # the sale that took the payment (GENUINE_USED)
    used_at: datetime | None = None  # when that sale took it, when known
    reason: str = ""  # why the relay could not be asked (CANNOT_CHECK)


def normalise(code: str) -> str:
    """The receipt code as M-Pesa prints it; ReceiptRefused when it cannot be one (docs/daraja.md §7)."""
    receipt = code.strip().upper()
    if not RECEIPT_PATTERN.match(receipt):
        raise ReceiptRefused("An M-Pesa receipt is 10 letters and digits, like NLJ7RT61SV.")
    return receipt


class MessageChecker:
    def __init__(
        self,
        *,
        store: Store,
        relay: Callable[[], RelayClient | None],
        pull: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._store = store
        self._relay = relay
        #: Pull Transactions (c2b_pull.py), asked when the relay cannot be and the till has no such payment.
        self._pull = pull

    async def check(self, code: str) -> MessageCheck:
        receipt = normalise(code)
        local = await self._store.attempt_with_receipt(receipt)
        relay = self._relay()
        if relay is None:
            return self._used_here(receipt, local) or await self._without_relay(
                receipt, "no relay is set up (query-only mode)"
            )
        try:
            found = await relay.receipt(receipt)
        except RelayError as error:
            return self._used_here(receipt, local) or await self._without_relay(receipt, str(error))
        if found is None or found.result_code != "0":
            # A receipt a local sale took but the relay never saw (an unverified manual receipt) is still
            # taken: the cashier must not hand over goods for it a second time. Before "not received",
            # M-Pesa itself is asked (Pull, §6): a confirmation lost on its way to the relay is no fraud.
            return (
                self._used_here(receipt, local)
                or await self._pulled(receipt)
                or MessageCheck(Verdict.NOT_RECEIVED, receipt)
            )
        sale_id: str | None
        used_at: datetime | None
        amount: int | None
        if found.c2b is not None:
            payment = found.c2b
            sale_id = local.sale_id if local is not None else payment.claimed_by
            used_at = _settled(local) or parse_wire_time(payment.claimed_at)
            amount, paid_at, name = payment.amount_kes, payment.paid_time, payment.first_name
        else:
            holder = local
            if holder is None and found.order_id:
                holder = await self._store.get_attempt(found.order_id)
            sale_id = holder.sale_id if holder is not None else found.order_id
            used_at = _settled(holder) or found.transaction_time
            amount, paid_at, name = found.amount_kes, found.transaction_time, ""
        if sale_id is None:
            return MessageCheck(Verdict.GENUINE_FREE, receipt, amount, paid_at, name)
        return MessageCheck(Verdict.GENUINE_USED, receipt, amount, paid_at, name, sale_id, used_at)

    async def _without_relay(self, receipt: str, reason: str) -> MessageCheck:
        """The relay cannot be asked: a C2B payment the till keeps (from the relay's feed earlier, or from
        Pull Transactions, docs/daraja.md §6) still answers. Never NOT_RECEIVED: Pull covers 48 hours
        and may lag, so a code it lacks is CANNOT_CHECK."""
        return await self._pulled(receipt) or MessageCheck(Verdict.CANNOT_CHECK, receipt, reason=reason)

    async def _pulled(self, receipt: str) -> MessageCheck | None:
        """The answer from the C2B payments the till keeps, pulling from Daraja once when it has none."""
        row = await self._store.get_c2b_payment(receipt)
        if row is None and self._pull is not None:
            await self._pull()
            row = await self._store.get_c2b_payment(receipt)
        if row is None:
            return None
        if row.claimed_by is None:
            return MessageCheck(Verdict.GENUINE_FREE, receipt, row.amount_kes, row.paid_at, row.first_name)
        return MessageCheck(
            Verdict.GENUINE_USED,
            receipt,
            row.amount_kes,
            row.paid_at,
            row.first_name,
            row.claimed_by,
            row.updated_at,
        )

    @staticmethod
    def _used_here(receipt: str, local: PaymentAttempt | None) -> MessageCheck | None:
        if local is None:
            return None
        return MessageCheck(
            Verdict.GENUINE_USED,
            receipt,
            amount_kes=local.amount_kes,
            sale_id=local.sale_id,
            used_at=_settled(local),
        )


def _settled(attempt: PaymentAttempt | None) -> datetime | None:
    if attempt is None:
        return None
    return attempt.settled_at or attempt.updated_at
