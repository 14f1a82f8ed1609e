"""The relay HTTP contract between the till and the relay: every JSON shape and word on the wire.

Both sides import this module (the till never imports `relay`, the relay never `pos_app`): the relay
builds its answers from these Structs, Litestar documents them at `/schema/openapi.json`, and the till
decodes the relay's answers into them (`decode`), so a field or a status that one side renames no longer
drifts silently from the other. Timestamps travel as ISO-8601 text with a `+00:00` offset (`wire_time`),
the form the contract has always had; msgspec's own datetime encoding would write `Z` instead.

A new kind of feed item (C2B payments next) is one more `FeedKind` member here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, TypeVar

import msgspec

#: A `CheckoutRequestID` with this prefix is the till's self-test callback, recorded and never a payment.
SELFTEST_PREFIX = "ws_CO_SELFTEST_"

WireTime = Annotated[
    str, msgspec.Meta(description="ISO-8601 time with its UTC offset", examples=["2026-11-21T09:00:00+00:00"])
]


class PaymentStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class FeedKind(StrEnum):
    #: The payment settled (completed or failed).
    RESULT = "result"
    #: The payment was flagged (`Payment.anomaly`); its status did not change.
    ANOMALY = "anomaly"


class AnomalyKind(StrEnum):
    """What the relay flags on a payment instead of settling it (or after settling it)."""

    #: A paid callback with another amount than registered; the payment stays pending.
    AMOUNT_MISMATCH = "amount_mismatch"
    #: A paid callback from another phone than registered; the payment stays pending.
    PHONE_MISMATCH = "phone_mismatch"
    #: A paid callback without the payer's phone to check; the payment stays pending.
    PHONE_MISSING = "phone_missing"
    #: A later callback disagrees with the first result, which stands; the status does not change.
    CONTRADICTING_RESULT = "contradicting_result"
    #: A ResultCode the catalogue does not know ("00", "-1"): neither paid nor failed (docs/daraja.md §4a);
    #: the payment stays pending, `result_code` carries the code.
    UNKNOWN_RESULT = "unknown_result"


#: Anomalies raised by a callback that cannot settle the payment (a paid one that does not match the
#: registration, or an unknown code): it carries a result code.
RESULT_ANOMALIES = frozenset(
    {
        AnomalyKind.AMOUNT_MISMATCH,
        AnomalyKind.PHONE_MISMATCH,
        AnomalyKind.PHONE_MISSING,
        AnomalyKind.UNKNOWN_RESULT,
    }
)


def wire_time(moment: datetime | None) -> str | None:
    """A datetime as the contract writes it (ISO-8601; aware UTC gives `+00:00`)."""
    return None if moment is None else moment.isoformat()


def parse_wire_time(text: str | None) -> datetime | None:
    """The contract's time text back to a datetime (a trailing `Z` is read too)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class PaymentRegistration(msgspec.Struct, frozen=True):
    """`POST /api/v1/payments`: the payment a till expects (idempotent on `checkout_request_id`)."""

    order_id: str
    checkout_request_id: str
    amount_kes: int
    phone: str  # 2547… (the relay normalises 07…, +254…)


class Payment(msgspec.Struct, frozen=True):
    """A till's payment as the relay holds it: the answer to registration and to status."""

    order_id: str
    checkout_request_id: str
    status: PaymentStatus
    #: The M-Pesa receipt once completed, else "" (an anomaly's receipt is in `reason`, for people).
    transaction_id: str = msgspec.field(name="transactionId")
    result_code: str | None
    reason: str  # ResultDesc, the anomaly's explanation, or ""
    amount_kes: int
    paid_amount_kes: int | None
    phone: str  # masked
    anomaly: AnomalyKind | None
    registered_at: WireTime
    settled_at: WireTime | None

    def __post_init__(self) -> None:
        if self.result_code is None and (
            self.status is not PaymentStatus.PENDING or self.anomaly in RESULT_ANOMALIES
        ):
            raise ValueError("a settled or mismatching payment carries its result_code")

    @property
    def receipt(self) -> str | None:
        return self.transaction_id.strip() or None

    @property
    def settled_time(self) -> datetime | None:
        return parse_wire_time(self.settled_at)


class FeedItem(Payment, frozen=True):
    """One entry of a till's feed: the payment as it is now, and why it is in the feed."""

    seq: int
    kind: FeedKind


class FeedPage(msgspec.Struct, frozen=True):
    """`GET /api/v1/results?after=N`: entries after N in `seq` order; `next_after` is the next cursor."""

    items: list[FeedItem]
    next_after: int


class ReceiptAnswer(msgspec.Struct, frozen=True):
    """`GET /api/v1/receipts/{receipt}`: a result with this receipt that belongs to the till."""

    receipt: str
    amount_kes: int | None
    phone: str  # masked, "" when the callback carried none
    checkout_request_id: str
    order_id: str | None  # None when the callback came for a payment the till never registered
    transaction_date: WireTime | None
    result_code: str

    @property
    def transaction_time(self) -> datetime | None:
        return parse_wire_time(self.transaction_date)


class SelftestSeen(msgspec.Struct, frozen=True):
    """`GET /api/v1/selftest/{checkout_request_id}`: when the self-test callback reached the relay."""

    received_at: WireTime

    @property
    def received_time(self) -> datetime | None:
        return parse_wire_time(self.received_at)


class TillInfo(msgspec.Struct, frozen=True):
    """`GET /api/v1/till`: the till's name and its tokenised callback path."""

    name: str
    callback_path: str


class ContractError(ValueError):
    """JSON that is not the contract's shape."""


T = TypeVar("T")


def decode(data: bytes | str, shape: type[T]) -> T:
    """Decode one answer strictly into its contract type; ContractError says what is wrong."""
    try:
        return msgspec.json.decode(data, type=shape)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ContractError(f"not a {shape.__name__}: {error}") from error
