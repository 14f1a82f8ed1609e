"""The relay HTTP contract between the till and the relay: every JSON shape and word on the wire.

Both sides import this module (the till never imports `relay`, the relay never `pos_app`): the relay
builds its answers from these Structs, Litestar documents them at `/schema/openapi.json`, and the till
decodes the relay's answers into them (`decode`), so a field or a status that one side renames no longer
drifts silently from the other. Timestamps travel as ISO-8601 text with a `+00:00` offset (`wire_time`),
the form the contract has always had; msgspec's own datetime encoding would write `Z` instead.

A new kind of feed item is one more `FeedKind` member here. C2B payments (`FeedKind.C2B`) travel in the
same feed: their `FeedItem.c2b` holds the payment, and the `Payment` fields around it are neutral
(`order_id` and `checkout_request_id` "", `pending`), so a till that reads every entry as its own STK
payment matches none of its sales with one.
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
    #: A C2B payment to the till's shop arrived, or its claim changed (`FeedItem.c2b`).
    C2B = "c2b"


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
    #: Added (compatible): the result came on the untokenised seed path from an address not on Safaricom's
    #: list (docs/daraja.md §5), so it is a hint: the till confirms it by STK Query before showing it as
    #: final. A later genuine result (tokenised path or listed address) replaces it and clears this.
    unverified: bool = False

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


class C2bPayment(msgspec.Struct, frozen=True):
    """A customer's C2B payment to the till's shop (paybill or till number, docs/daraja.md §6)."""

    trans_id: str  # TransID, the M-Pesa receipt
    amount_kes: int
    first_name: str  # FirstName as Safaricom sent it
    phone: str  # masked (`2547*****126`), "" when Safaricom sent only a digest
    bill_ref: str  # BillRefNumber: the paybill account, usually "" for a till number
    shortcode: str  # BusinessShortCode
    paid_at: WireTime  # TransTime (Nairobi) in UTC; the relay's receipt time when TransTime is unreadable
    received_at: WireTime
    #: The sale (order id) that took this payment, None while nobody has claimed it.
    claimed_by: str | None
    claimed_at: WireTime | None

    @property
    def paid_time(self) -> datetime | None:
        return parse_wire_time(self.paid_at)


class FeedItem(Payment, frozen=True, omit_defaults=True, kw_only=True):
    """One entry of a till's feed: the payment as it is now, and why it is in the feed.

    `c2b` is left out of the JSON when None and `unverified` when false, so STK entries are on the wire
    exactly as before them."""

    seq: int
    kind: FeedKind
    #: Set only on `FeedKind.C2B` entries: the C2B payment as it is now.
    c2b: C2bPayment | None = None


class FeedPage(msgspec.Struct, frozen=True):
    """`GET /api/v1/results?after=N`: entries after N in `seq` order; `next_after` is the next cursor."""

    items: list[FeedItem]
    next_after: int


class ReceiptAnswer(msgspec.Struct, frozen=True, omit_defaults=True):
    """`GET /api/v1/receipts/{receipt}`: a result with this receipt that belongs to the till (its STK
    payment, or a C2B payment to its shop). `c2b` is left out of the JSON when None."""

    receipt: str
    amount_kes: int | None
    phone: str  # masked, "" when the callback carried none
    checkout_request_id: str
    order_id: str | None  # None when the callback came for a payment the till never registered
    transaction_date: WireTime | None
    result_code: str
    #: Set when the receipt is a C2B payment to the till's shop (then `checkout_request_id` is "" and
    #: `order_id` is the sale that claimed it, if any).
    c2b: C2bPayment | None = None

    @property
    def transaction_time(self) -> datetime | None:
        return parse_wire_time(self.transaction_date)


class OrphanSearch(msgspec.Struct, frozen=True):
    """`POST /api/v1/orphans`: results on this till's own callback path that no registered payment
    claimed, of this amount and phone, received in [since, until]. A till that died while its STK Push
    was out never learned the CheckoutRequestID, so this is how it finds the push's result (a POST, so the
    phone never sits in a URL that a proxy logs)."""

    amount_kes: int
    phone: str  # 2547… (the relay normalises 07…, +254…)
    since: WireTime
    until: WireTime


class Orphan(msgspec.Struct, frozen=True):
    """One result that came on the till's tokenised callback path for a CheckoutRequestID it never
    registered. Only paid results carry an amount and a phone, so only they match a search."""

    checkout_request_id: str
    result_code: str
    result_desc: str
    receipt: str  # "" when the callback carried none
    amount_kes: int
    phone: str  # masked
    transaction_date: WireTime | None
    received_at: WireTime

    @property
    def received_time(self) -> datetime | None:
        return parse_wire_time(self.received_at)


class OrphanPage(msgspec.Struct, frozen=True):
    """The answer to `OrphanSearch`, oldest first; `more` when the relay held more than it sent."""

    items: list[Orphan]
    more: bool


class SelftestSeen(msgspec.Struct, frozen=True):
    """`GET /api/v1/selftest/{checkout_request_id}`: when the self-test callback reached the relay."""

    received_at: WireTime

    @property
    def received_time(self) -> datetime | None:
        return parse_wire_time(self.received_at)


class TillShop(msgspec.Struct, frozen=True):
    """The shop a till belongs to (C2B, docs/daraja.md §6): its till or paybill number and the tokenised
    paths of its C2B confirmation and validation URLs, to be registered with Daraja."""

    name: str
    shortcode: str
    confirmation_path: str
    validation_path: str


class TillInfo(msgspec.Struct, frozen=True):
    """`GET /api/v1/till`: the till's name, its tokenised callback path, and its shop (null when the till
    belongs to no shop; absent from relays older than the field)."""

    name: str
    callback_path: str
    shop: TillShop | None = None


class C2bClaim(msgspec.Struct, frozen=True):
    """`POST /api/v1/c2b/{trans_id}/claim`: the sale that takes the payment."""

    order_id: str


class C2bRelease(msgspec.Struct, frozen=True):
    """`POST /api/v1/c2b/{trans_id}/release`: who released the claim (the till checked the owner PIN)."""

    released_by: str = ""


class ContractError(ValueError):
    """JSON that is not the contract's shape."""


T = TypeVar("T")


def decode(data: bytes | str, shape: type[T]) -> T:
    """Decode one answer strictly into its contract type; ContractError says what is wrong."""
    try:
        return msgspec.json.decode(data, type=shape)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ContractError(f"not a {shape.__name__}: {error}") from error
