"""The relay's tables (SQLModel). Schema changes go through `relay/migrations` (alembic).

Where things live:
- `raw_callback`: every request to a callback path, stored before it is parsed (headers, body, source
  address, time) with what became of it (`status`, `error`) so it can be replayed.
- `stk_result`: the parsed result, once per `CheckoutRequestID` (the first copy wins; later copies are
  counted as duplicates or kept as contradictions), except that a genuine result replaces an unverified
  one (`unverified`: seed path, source not on Safaricom's list).
- `payment`: what a till registered; settles from its `stk_result`.
- `feed_entry`: the per-till cursor feed (`seq`), one row per result or anomaly, and per C2B payment
  event (`kind` c2b: then `payment_id` is a `c2b_payment` id).
- `shop`, `shop_till`, `c2b_payment`, `claim_event`: C2B payments to a shop's shortcode, seen by every
  till of the shop, claimed by one sale (relay/c2b.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which has no zones) and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the relay stores aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RelayModel(SQLModel, registry=registry()):
    """The relay's own registry and MetaData: the till's store also uses SQLModel, and when both live in
    one process (embedded relay, tests) the shared default MetaData would mix the two schemas."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _dt(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Till(RelayModel, table=True):
    __tablename__ = "till"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    # sha256 of the key: the key itself is never stored (see relay/tills.py for why sha256 is enough).
    key_hash: str = Field(max_length=64, unique=True)
    # The secret part of this till's callback path; hex, so it never spells a word Safaricom rejects.
    token: str = Field(max_length=64, unique=True)
    created_at: datetime = _dt()
    revoked_at: datetime | None = _dt(default=None, nullable=True)


class RawCallback(RelayModel, table=True):
    __tablename__ = "raw_callback"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _dt(index=True)
    path: str = Field(max_length=300)
    token: str | None = Field(default=None, max_length=300, nullable=True)
    till_id: int | None = Field(default=None, nullable=True, index=True)
    source_ip: str = Field(max_length=64)
    headers: str = Field(sa_type=sa.Text)  # JSON object
    body: bytes = Field(sa_type=sa.LargeBinary)
    # received | applied | orphan | duplicate | contradicting | malformed | unknown_token | wrong_till |
    # forbidden_source | selftest | failed
    status: str = Field(max_length=32, index=True)
    error: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    checkout_request_id: str | None = Field(default=None, max_length=120, nullable=True, index=True)


class StkResult(RelayModel, table=True):
    __tablename__ = "stk_result"

    checkout_request_id: str = Field(primary_key=True, max_length=120)
    raw_callback_id: int
    till_id: int | None = Field(default=None, nullable=True, index=True)  # from the callback's token
    merchant_request_id: str = Field(max_length=120)
    result_code: str = Field(max_length=40)
    result_desc: str = Field(sa_type=sa.Text)
    amount_text: str | None = Field(default=None, max_length=40, nullable=True)
    amount_kes: int | None = Field(default=None, nullable=True)
    receipt: str | None = Field(default=None, max_length=40, nullable=True, index=True)
    phone: str | None = Field(default=None, max_length=20, nullable=True)
    transaction_date: datetime | None = _dt(default=None, nullable=True)
    received_at: datetime = _dt()
    duplicates: int = 0
    contradictions: int = 0
    # On the untokenised seed path from an address not on Safaricom's list: a hint, replaced by a genuine
    # result when one comes (relay/intake.py, docs/daraja.md §5).
    unverified: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Payment(RelayModel, table=True):
    __tablename__ = "payment"
    __table_args__ = (sa.Index("ix_payment_till_order", "till_id", "order_id"),)

    id: int | None = Field(default=None, primary_key=True)
    till_id: int = Field(index=True)
    order_id: str = Field(max_length=120)
    checkout_request_id: str = Field(max_length=120, unique=True)
    amount_kes: int
    phone: str = Field(max_length=20)
    status: str = Field(max_length=16, index=True)  # pending | completed | failed
    receipt: str | None = Field(default=None, max_length=40, nullable=True)
    result_code: str | None = Field(default=None, max_length=40, nullable=True)
    reason: str = Field(default="", sa_type=sa.Text)
    paid_amount_kes: int | None = Field(default=None, nullable=True)
    anomaly: str | None = Field(default=None, max_length=40, nullable=True)
    registered_at: datetime = _dt(index=True)
    settled_at: datetime | None = _dt(default=None, nullable=True)
    updated_at: datetime = _dt()
    # Settled (or flagged) by an unverified result: the till confirms it by STK Query.
    unverified: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class FeedEntry(RelayModel, table=True):
    __tablename__ = "feed_entry"
    __table_args__ = (sa.Index("ix_feed_entry_till_seq", "till_id", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    till_id: int
    payment_id: int
    kind: str = Field(max_length=16)  # result | anomaly | c2b
    created_at: datetime = _dt()


class SelfTest(RelayModel, table=True):
    __tablename__ = "selftest"
    __table_args__ = (sa.Index("ix_selftest_till_checkout", "till_id", "checkout_request_id"),)

    id: int | None = Field(default=None, primary_key=True)
    checkout_request_id: str = Field(max_length=120)
    till_id: int | None = Field(default=None, nullable=True)
    raw_callback_id: int
    received_at: datetime = _dt()


class Shop(RelayModel, table=True):
    """Who owns a shortcode (till or paybill number); its tills all see its C2B payments."""

    __tablename__ = "shop"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    shortcode: str = Field(max_length=20, unique=True)
    # The secret part of the shop's C2B URLs; hex, like the till's callback token (relay/tills.py).
    token: str = Field(max_length=64, unique=True)
    created_at: datetime = _dt()


class ShopTill(RelayModel, table=True):
    """A till's membership of a shop: a till belongs to one shop at most."""

    __tablename__ = "shop_till"

    till_id: int = Field(primary_key=True)
    shop_id: int = Field(index=True)
    added_at: datetime = _dt()


class C2bPaymentRow(RelayModel, table=True):
    """A C2B payment, once per TransID (the first confirmation wins; copies are counted)."""

    __tablename__ = "c2b_payment"

    id: int | None = Field(default=None, primary_key=True)
    trans_id: str = Field(max_length=40, unique=True)
    shop_id: int = Field(index=True)
    raw_callback_id: int
    transaction_type: str = Field(max_length=100)
    trans_time: datetime | None = _dt(default=None, nullable=True)
    amount_kes: int
    shortcode: str = Field(max_length=20)
    bill_ref: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    phone_masked: str = Field(max_length=20)
    received_at: datetime = _dt()
    duplicates: int = 0
    claimed_by: str | None = Field(default=None, max_length=120, nullable=True)
    claimed_till_id: int | None = Field(default=None, nullable=True)
    claimed_at: datetime | None = _dt(default=None, nullable=True)


class ClaimEvent(RelayModel, table=True):
    """Every claim, refused claim and release of a C2B payment, with the till and sale behind it."""

    __tablename__ = "claim_event"

    id: int | None = Field(default=None, primary_key=True)
    c2b_payment_id: int = Field(index=True)
    action: str = Field(max_length=16)  # claim | refused | release
    till_id: int
    order_id: str | None = Field(default=None, max_length=120, nullable=True)
    by: str = Field(default="", max_length=100)  # who released, as the till names them
    at: datetime = _dt()


def table(model: type[RelayModel]) -> sa.Table:
    """The Core table behind a model, for the batched statements the writer runs."""
    result: sa.Table = model.__table__  # type: ignore[attr-defined]
    return result


till_table = table(Till)
raw_table = table(RawCallback)
result_table = table(StkResult)
payment_table = table(Payment)
feed_table = table(FeedEntry)
selftest_table = table(SelfTest)
shop_table = table(Shop)
shop_till_table = table(ShopTill)
c2b_table = table(C2bPaymentRow)
claim_event_table = table(ClaimEvent)
