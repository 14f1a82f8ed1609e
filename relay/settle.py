"""Where pending becomes paid: the `Unit` of work that applies what `relay.intake` decided.

A `Unit` holds one transaction's pending writes (payment changes, feed entries, stored results,
self-tests, events) and flushes them with one executemany per kind of statement. `Unit.settle` is the one
place where a pending payment becomes completed, failed or flagged (`Unit.resettle` starts it again when a
genuine result replaces the unverified one that settled it); `relay.payments` uses the same `Unit`
when a result arrived before its payment was registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from daraja_core.contract import AnomalyKind, FeedKind, PaymentStatus
from daraja_core.phones import mask_msisdn
from daraja_core.results import Outcome, classify
from relay import feed
from relay.notify import Changes
from relay.rows import Rows


@dataclass
class Effects:
    """What a committed transaction changed, for notifications, metrics and logs (after the commit)."""

    till_ids: set[int] = field(default_factory=set)  # tills whose feed changed: their feed long-polls wake
    events: list[dict[str, Any]] = field(default_factory=list)
    settle_latencies_s: list[float] = field(default_factory=list)
    orders: set[tuple[int, str]] = field(default_factory=set)  # (till, order) whose status may have changed

    def changes(self) -> Changes:
        """What the long-polls must hear of (`relay.notify`)."""
        return Changes(feeds=set(self.till_ids), orders=set(self.orders))

    def merge(self, other: Effects) -> None:
        self.till_ids |= other.till_ids
        self.orders |= other.orders
        self.events.extend(other.events)
        self.settle_latencies_s.extend(other.settle_latencies_s)


def _result_fields(r: dict[str, Any], rows: Rows) -> tuple[Any, ...]:
    """An STK result's columns from raw_callback_id to unverified, as its INSERT and UPDATE write them."""
    return (
        r["raw_callback_id"],
        r["till_id"],
        r["merchant_request_id"],
        r["result_code"],
        r["result_desc"],
        r["amount_text"],
        r["amount_kes"],
        r["receipt"],
        r["phone"],
        rows.dt_in(r["transaction_date"]),
        rows.dt_in(r["received_at"]),
        r["unverified"],
    )


class Unit:
    """Pending writes of one transaction, flushed with one executemany per kind of statement."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.rows = Rows(connection)
        self.effects = Effects()
        self.payments: dict[str, dict[str, Any] | None] = {}  # by checkout id; None = known absent
        self.results: dict[str, dict[str, Any] | None] = {}
        self.tills_by_token: dict[str, int | None] = {}
        self.new_results: dict[str, dict[str, Any]] = {}
        self.replaced_results: dict[str, dict[str, Any]] = {}  # stored unverified, replaced by a genuine one
        self.result_counts: dict[str, tuple[int, int]] = {}
        self.payment_changes: dict[int, dict[str, Any]] = {}
        self.feed: list[dict[str, Any]] = []
        self.selftests: list[dict[str, Any]] = []

    # -- loading -----------------------------------------------------------------------------------
    def preload(self, checkout_ids: set[str], tokens: set[str]) -> None:
        rows = self.rows
        missing = [cid for cid in checkout_ids if cid not in self.payments]
        if missing:
            for cid in missing:
                self.payments[cid] = None
                self.results[cid] = None
            for row in rows.select_in(
                f"SELECT {_PAYMENT_COLUMNS} FROM payment WHERE checkout_request_id",
                missing,
                datetimes=("registered_at", "settled_at", "updated_at"),
            ):
                row["unverified"] = bool(row["unverified"])
                self.payments[row["checkout_request_id"]] = row
            for row in rows.select_in(
                "SELECT checkout_request_id, raw_callback_id, till_id, result_code, result_desc, "
                "amount_text, amount_kes, receipt, phone, unverified "
                "FROM stk_result WHERE checkout_request_id",
                missing,
            ):
                row["unverified"] = bool(row["unverified"])
                self.results[row["checkout_request_id"]] = row
        unknown_tokens = [token for token in tokens if token not in self.tills_by_token]
        if unknown_tokens:
            for token in unknown_tokens:
                self.tills_by_token[token] = None
            for row in rows.select_in(
                "SELECT id, token FROM till WHERE revoked_at IS NULL AND token", unknown_tokens
            ):
                self.tills_by_token[row["token"]] = row["id"]

    # -- applying ----------------------------------------------------------------------------------
    def change_payment(self, payment: dict[str, Any], **values: Any) -> None:
        payment.update(values)
        self.payment_changes.setdefault(payment["id"], {}).update(values)
        self.effects.orders.add((payment["till_id"], payment["order_id"]))

    def add_feed(self, payment: dict[str, Any], kind: FeedKind, now: datetime) -> None:
        self.feed.append(
            {"till_id": payment["till_id"], "payment_id": payment["id"], "kind": kind, "created_at": now}
        )
        self.effects.till_ids.add(payment["till_id"])

    def settle(self, payment: dict[str, Any], result: dict[str, Any], now: datetime) -> None:
        """Apply a stored result to a pending payment: the one place where pending becomes paid."""
        if payment["status"] != PaymentStatus.PENDING or payment["anomaly"] is not None:
            return
        info = classify(result["result_code"])
        code = result["result_code"]
        unverified = bool(result["unverified"])
        if not info.final:
            # An unknown code ("00", "-1") is unknown, not a failure (docs/daraja.md §4a): the payment stays
            # pending, flagged, and the till confirms by STK Query or the customer's SMS.
            self.change_payment(
                payment,
                anomaly=AnomalyKind.UNKNOWN_RESULT,
                result_code=code,
                reason=info.message_en,
                unverified=unverified,
                updated_at=now,
            )
            self.add_feed(payment, FeedKind.ANOMALY, now)
            self.event("anomaly", payment, anomaly=AnomalyKind.UNKNOWN_RESULT, result_code=code)
            return
        if info.outcome is Outcome.PAID:
            anomaly, reason = _paid_mismatch(payment, result)
            if anomaly is not None:
                # Not completed: the till sees the anomaly and confirms by STK Query or the SMS.
                self.change_payment(
                    payment,
                    anomaly=anomaly,
                    reason=reason,
                    result_code=code,
                    receipt=result["receipt"],
                    paid_amount_kes=result["amount_kes"],
                    unverified=unverified,
                    updated_at=now,
                )
                self.add_feed(payment, FeedKind.ANOMALY, now)
                self.event("anomaly", payment, anomaly=anomaly, paid_amount_kes=result["amount_kes"])
                return
            self.change_payment(
                payment,
                status=PaymentStatus.COMPLETED,
                result_code=code,
                reason=result["result_desc"],
                receipt=result["receipt"],
                paid_amount_kes=result["amount_kes"],
                unverified=unverified,
                settled_at=now,
                updated_at=now,
            )
        else:
            self.change_payment(
                payment,
                status=PaymentStatus.FAILED,
                result_code=code,
                reason=result["result_desc"],
                unverified=unverified,
                settled_at=now,
                updated_at=now,
            )
        self.add_feed(payment, FeedKind.RESULT, now)
        self.effects.settle_latencies_s.append(max(0.0, (now - payment["registered_at"]).total_seconds()))
        self.event(
            "status_changed", payment, status=payment["status"], result_code=code, unverified=unverified
        )

    def replace_result(self, checkout_request_id: str, result: dict[str, Any]) -> None:
        """A genuine result takes the place of the unverified one stored for this id."""
        self.results[checkout_request_id] = result
        if checkout_request_id in self.new_results:
            self.new_results[checkout_request_id] = result
        else:
            self.replaced_results[checkout_request_id] = result

    def resettle(self, payment: dict[str, Any], result: dict[str, Any], now: datetime) -> None:
        """Settle again from a genuine result a payment that an unverified result settled or flagged."""
        if not payment["unverified"] and (
            payment["status"] != PaymentStatus.PENDING or payment["anomaly"] is not None
        ):
            return  # settled by a verified result, which stands
        self.change_payment(
            payment,
            status=PaymentStatus.PENDING,
            anomaly=None,
            receipt=None,
            result_code=None,
            reason="",
            paid_amount_kes=None,
            settled_at=None,
            unverified=False,
            updated_at=now,
        )
        self.settle(payment, result, now)

    def contradict(self, payment: dict[str, Any], now: datetime, result_code: str) -> None:
        """A later result that disagrees with the stored one: an anomaly to check; the first result stands."""
        anomaly = AnomalyKind.CONTRADICTING_RESULT
        self.change_payment(payment, anomaly=anomaly, updated_at=now)
        self.add_feed(payment, FeedKind.ANOMALY, now)
        self.event("anomaly", payment, anomaly=anomaly, result_code=result_code)

    def event(self, name: str, payment: dict[str, Any], **fields: Any) -> None:
        self.effects.events.append(
            {
                "event": name,
                "till_id": payment["till_id"],
                "order_id": payment["order_id"],
                "checkout_request_id": payment["checkout_request_id"],
                "phone": mask_msisdn(payment["phone"]),
                **fields,
            }
        )

    # -- flushing ----------------------------------------------------------------------------------
    def flush(self) -> None:
        rows = self.rows
        rows.many(
            "INSERT INTO stk_result (checkout_request_id, raw_callback_id, till_id, merchant_request_id, "
            "result_code, result_desc, amount_text, amount_kes, receipt, phone, transaction_date, "
            "received_at, unverified, duplicates, contradictions) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
            [(r["checkout_request_id"], *_result_fields(r, rows)) for r in self.new_results.values()],
        )
        rows.many(
            "UPDATE stk_result SET raw_callback_id = ?, till_id = ?, merchant_request_id = ?, "
            "result_code = ?, result_desc = ?, amount_text = ?, amount_kes = ?, receipt = ?, phone = ?, "
            "transaction_date = ?, received_at = ?, unverified = ? WHERE checkout_request_id = ?",
            [(*_result_fields(r, rows), cid) for cid, r in self.replaced_results.items()],
        )
        rows.many(
            "UPDATE stk_result SET duplicates = duplicates + ?, contradictions = contradictions + ? "
            "WHERE checkout_request_id = ?",
            [(dup, con, cid) for cid, (dup, con) in self.result_counts.items()],
        )
        # One statement per set of changed columns (executemany needs one shape).
        by_shape: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for payment_id, values in self.payment_changes.items():
            shape = tuple(sorted(values))
            params = tuple(rows.dt_in(values[k]) if k in _PAYMENT_DATETIMES else values[k] for k in shape)
            by_shape.setdefault(shape, []).append((*params, payment_id))
        for shape, params_list in by_shape.items():
            assignments = ", ".join(f"{name} = ?" for name in shape)
            rows.many(f"UPDATE payment SET {assignments} WHERE id = ?", params_list)
        rows.many(
            "INSERT INTO selftest (checkout_request_id, till_id, raw_callback_id, received_at) "
            "VALUES (?, ?, ?, ?)",
            [
                (t["checkout_request_id"], t["till_id"], t["raw_callback_id"], rows.dt_in(t["received_at"]))
                for t in self.selftests
            ],
        )
        feed.append(
            self.connection, [(f["till_id"], f["payment_id"], f["kind"], f["created_at"]) for f in self.feed]
        )


_PAYMENT_COLUMNS = (
    "id, till_id, order_id, checkout_request_id, amount_kes, phone, status, receipt, result_code, reason, "
    "paid_amount_kes, anomaly, registered_at, settled_at, updated_at, unverified"
)
_PAYMENT_DATETIMES = frozenset({"registered_at", "settled_at", "updated_at"})


def _paid_mismatch(payment: dict[str, Any], result: dict[str, Any]) -> tuple[AnomalyKind | None, str]:
    if result["amount_kes"] is None or result["amount_kes"] != payment["amount_kes"]:
        shown = result["amount_text"] if result["amount_text"] is not None else "nothing"
        return AnomalyKind.AMOUNT_MISMATCH, f"Paid {shown} KES, expected {payment['amount_kes']} KES"
    if result["phone"] is None:
        return AnomalyKind.PHONE_MISSING, "The callback carries no payer phone number to check"
    if result["phone"] != payment["phone"]:
        return (
            AnomalyKind.PHONE_MISMATCH,
            f"Paid from {mask_msisdn(result['phone'])}, expected {mask_msisdn(payment['phone'])}",
        )
    return None, ""
