"""A till's expected payments: registration (write side) and the contract answers the till reads
(read side, `daraja_core.contract`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daraja_core.contract import (
    AnomalyKind,
    C2bPayment,
    FeedItem,
    FeedKind,
    Payment,
    PaymentStatus,
    ReceiptAnswer,
    SelftestSeen,
    wire_time,
)
from daraja_core.phones import mask_msisdn
from relay.c2b import c2b_payments_by_id
from relay.models import payment_table, result_table, selftest_table
from relay.rows import Rows
from relay.settle import Effects, Unit
from relay.tills import TillRef


class RegistrationConflict(ValueError):
    """The CheckoutRequestID is registered already, with other fields or by another till."""


@dataclass(frozen=True)
class PaymentCreate:
    order_id: str
    checkout_request_id: str
    amount_kes: int
    phone: str  # normalised 12-digit MSISDN


def register_payment(
    connection: Connection, till: TillRef, request: PaymentCreate, now: datetime
) -> tuple[dict[str, Any], Effects]:
    """Idempotent on `checkout_request_id`; applies a callback that arrived before the registration."""
    existing = (
        connection.execute(
            sa.select(payment_table).where(payment_table.c.checkout_request_id == request.checkout_request_id)
        )
        .mappings()
        .first()
    )
    if existing is not None:
        same = (
            existing["till_id"] == till.id
            and existing["order_id"] == request.order_id
            and existing["amount_kes"] == request.amount_kes
            and existing["phone"] == request.phone
        )
        if not same:
            raise RegistrationConflict("this CheckoutRequestID is already registered with other details")
        return dict(existing), Effects()
    row = {
        "till_id": till.id,
        "order_id": request.order_id,
        "checkout_request_id": request.checkout_request_id,
        "amount_kes": request.amount_kes,
        "phone": request.phone,
        "status": "pending",
        "receipt": None,
        "result_code": None,
        "reason": "",
        "paid_amount_kes": None,
        "anomaly": None,
        "registered_at": now,
        "settled_at": None,
        "updated_at": now,
        "unverified": False,
    }
    payment_id = connection.execute(sa.insert(payment_table).returning(payment_table.c.id), row).scalar_one()
    payment = {"id": payment_id, **row}
    unit = Unit(connection)
    unit.event("registered", payment, amount_kes=request.amount_kes)
    result = (
        connection.execute(
            sa.select(result_table).where(result_table.c.checkout_request_id == request.checkout_request_id)
        )
        .mappings()
        .first()
    )
    # A result that came in on another till's callback path is not this till's to take.
    if result is not None and result["till_id"] in (None, till.id):
        unit.settle(payment, dict(result), now)
        if result["contradictions"]:
            unit.contradict(payment, now, result["result_code"])
    unit.flush()
    # A new registration is the order's newest payment: its status long-polls look again.
    unit.effects.orders.add((till.id, request.order_id))
    return payment, unit.effects


# -- read side -----------------------------------------------------------------------------------------


# What `payment_answer` reads of a payment row.
_PAYMENT_COLUMNS = (
    "order_id, checkout_request_id, status, receipt, result_code, reason, amount_kes, paid_amount_kes, "
    "phone, anomaly, registered_at, settled_at, unverified"
)


def payment_answer(row: Any) -> Payment:
    """The contract's `Payment` for a payment row."""
    completed = row["status"] == PaymentStatus.COMPLETED
    return Payment(
        order_id=row["order_id"],
        checkout_request_id=row["checkout_request_id"],
        status=PaymentStatus(row["status"]),
        # The receipt only once paid and checked; an anomaly's receipt is in `reason` for people.
        transaction_id=(row["receipt"] or "") if completed else "",
        result_code=row["result_code"],
        reason=row["reason"] or "",
        amount_kes=row["amount_kes"],
        paid_amount_kes=row["paid_amount_kes"],
        phone=mask_msisdn(row["phone"]),
        anomaly=None if row["anomaly"] is None else AnomalyKind(row["anomaly"]),
        registered_at=row["registered_at"].isoformat(),
        settled_at=wire_time(row["settled_at"]),
        unverified=bool(row["unverified"]),
    )


def is_settled_or_flagged(payment: Payment) -> bool:
    """What ends a long-poll: the status left pending, or the till must look at an anomaly."""
    return payment.status is not PaymentStatus.PENDING or payment.anomaly is not None


def payment_status(connection: Connection, till_id: int, order_id: str) -> Payment | None:
    """The till's newest payment for this order (an order can be charged again after a failure).

    Driver-level SQL (relay.rows): every status long-poll's every look runs it."""
    row = Rows(connection).first(
        f"SELECT {_PAYMENT_COLUMNS} FROM payment WHERE till_id = ? AND order_id = ? ORDER BY id DESC LIMIT 1",
        (till_id, order_id),
        datetimes=("registered_at", "settled_at"),
    )
    return None if row is None else payment_answer(row)


def feed_page(connection: Connection, till_id: int, after: int, limit: int) -> list[FeedItem]:
    """The till's feed after `after`: its payments' results and anomalies, and its shop's C2B payments."""
    # Driver-level SQL (relay.rows): every feed long-poll's every look runs it.
    columns = ", ".join(f"p.{column.strip()}" for column in _PAYMENT_COLUMNS.split(","))
    rows = Rows(connection).all(
        f"SELECT f.seq, f.kind, f.payment_id AS entry_id, {columns} FROM feed_entry f "
        "LEFT JOIN payment p ON p.id = f.payment_id AND f.kind <> ? "
        # A cursor past any seq there is (2**31 and more) is a bigint to PostgreSQL, not an error.
        "WHERE f.till_id = ? AND f.seq > CAST(? AS BIGINT) ORDER BY f.seq LIMIT ?",
        (FeedKind.C2B.value, till_id, after, limit),
        datetimes=("registered_at", "settled_at"),
    )
    c2b = c2b_payments_by_id(connection, [row["entry_id"] for row in rows if row["kind"] == FeedKind.C2B])
    items: list[FeedItem] = []
    for row in rows:
        if row["kind"] == FeedKind.C2B:
            items.append(c2b_feed_item(row["seq"], c2b[row["entry_id"]]))
        else:
            items.append(
                FeedItem(
                    **msgspec.structs.asdict(payment_answer(row)), seq=row["seq"], kind=FeedKind(row["kind"])
                )
            )
    return items


def c2b_feed_item(seq: int, c2b: C2bPayment) -> FeedItem:
    """A C2B payment in the feed: neutral `Payment` fields (no order, no checkout id, pending), so a till
    that reads every entry as one of its STK payments matches none of its sales (daraja_core/contract.py)."""
    return FeedItem(
        order_id="",
        checkout_request_id="",
        status=PaymentStatus.PENDING,
        transaction_id="",
        result_code=None,
        reason="",
        amount_kes=c2b.amount_kes,
        paid_amount_kes=None,
        phone=c2b.phone,
        anomaly=None,
        registered_at=c2b.received_at,
        settled_at=None,
        seq=seq,
        kind=FeedKind.C2B,
        c2b=c2b,
    )


def receipt_lookup(connection: Connection, till_id: int, receipt: str) -> ReceiptAnswer | None:
    """A result with this receipt that belongs to this till (its payment, or its callback path)."""
    rows = connection.execute(
        sa.select(result_table, payment_table.c.order_id, payment_table.c.till_id.label("payment_till_id"))
        .outerjoin(payment_table, payment_table.c.checkout_request_id == result_table.c.checkout_request_id)
        .where(result_table.c.receipt == receipt.strip().upper())
    ).mappings()
    for row in rows:
        owner = row["payment_till_id"] if row["payment_till_id"] is not None else row["till_id"]
        if owner != till_id:
            continue
        return ReceiptAnswer(
            receipt=row["receipt"],
            amount_kes=row["amount_kes"],
            phone=mask_msisdn(row["phone"]),
            checkout_request_id=row["checkout_request_id"],
            order_id=row["order_id"],
            transaction_date=wire_time(row["transaction_date"]),
            result_code=row["result_code"],
        )
    return None


def selftest_lookup(connection: Connection, till_id: int, checkout_request_id: str) -> SelftestSeen | None:
    received_at = connection.execute(
        sa.select(selftest_table.c.received_at)
        .where(
            selftest_table.c.till_id == till_id, selftest_table.c.checkout_request_id == checkout_request_id
        )
        .order_by(selftest_table.c.id)
        .limit(1)
    ).scalar_one_or_none()
    return None if received_at is None else SelftestSeen(received_at=received_at.isoformat())
