"""The till's tables (SQLModel). The schema itself is owned by the migrations in `migrations/versions/`;
these classes must match the head revision (tests/engine/test_store_migrations.py compares them).

Datetimes are stored as UTC text in the form `daraja_core.utc_text` writes (`UtcDateTime`): SQLite has
no time zone type, and fixed-width text in one zone sorts and compares correctly (docs/architecture.md
"Money, phones, time").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, Text, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import configure_mappers
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from daraja_core import utc_text


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive input is refused: a naive time
    could be Nairobi or UTC, and a three-hour error moves a sale to another day."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else utc_text.encode(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else utc_text.decode(str(value))


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    return Column(UtcDateTime(), nullable=nullable, index=index)


class Sale(SQLModel, table=True):
    __tablename__ = "sales"

    id: str = Field(primary_key=True, max_length=16)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    description: str = Field(default="")
    demo: bool = Field(default=False)


class PaymentAttempt(SQLModel, table=True):
    __tablename__ = "payment_attempts"
    __table_args__ = (
        # A receipt belongs to one sale only: one payment cannot settle two sales (manual entry refuses a
        # code already used).
        Index("ix_payment_attempts_receipt", "receipt", unique=True),
        Index("ix_payment_attempts_checkout_request_id", "checkout_request_id", unique=True),
        # Revision 0005: one cash payment per sale at most (pos_app/engine/cash.py).
        Index("ix_payment_attempts_cash_sale", "sale_id", unique=True, sqlite_where=text("method = 'cash'")),
    )

    id: str = Field(primary_key=True, max_length=16)
    sale_id: str = Field(foreign_key="sales.id", index=True, max_length=16)
    amount_kes: int
    phone: str = Field(max_length=12)
    description: str = Field(default="")
    account_reference: str = Field(default="")
    state: str = Field(index=True)
    outcome: str | None = None
    result_code: str | None = None
    result_desc: str = Field(default="")
    reason: str = Field(default="")
    receipt: str | None = None
    method: str = Field(default="stk")
    merchant_request_id: str | None = None
    checkout_request_id: str | None = None
    created_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    push_started_at: datetime | None = Field(default=None, sa_column=utc_column())
    prompt_sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    settled_at: datetime | None = Field(default=None, sa_column=utc_column())
    wait_deadline_at: datetime | None = Field(default=None, sa_column=utc_column())
    anomaly: str | None = None
    anomaly_detail: str = Field(default="")
    customer_confirmed_no_sms: bool = Field(default=False)
    relay_registered: bool = Field(default=False)
    demo: bool = Field(default=False)
    #: Optimistic concurrency: every update names the version it read (window and CLI may share a store).
    version: int = Field(default=1)
    # Added by revision 0002 (manual receipt entry).
    manual_verified: bool | None = None
    manual_reason: str = Field(default="")
    manual_by: str = Field(default="")
    manual_at: datetime | None = Field(default=None, sa_column=utc_column())


class AuditEntry(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted (who, when, what)."""

    __tablename__ = "audit_trail"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    actor: str
    action: str
    attempt_id: str | None = Field(default=None, index=True)
    sale_id: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class Setting(SQLModel, table=True):
    __tablename__ = "settings"

    key: str = Field(primary_key=True)
    value: str
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class C2bPaymentRow(SQLModel, table=True):
    """A C2B payment to the till's shop, from the relay's feed or Pull Transactions; one row per TransID."""

    __tablename__ = "c2b_payments"

    trans_id: str = Field(primary_key=True)
    amount_kes: int
    first_name: str = Field(default="")
    phone: str = Field(default="")  # masked by the relay (`2547*****126`), "" when it has none
    bill_ref: str = Field(default="")
    shortcode: str = Field(default="")
    paid_at: datetime = Field(sa_column=utc_column(nullable=False))
    received_at: datetime = Field(sa_column=utc_column(nullable=False))
    #: The sale (order id, on this till or another of the shop) that took it; None while unclaimed.
    claimed_by: str | None = Field(default=None, index=True)
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    #: "relay" (its feed) or "pull" (Daraja's Pull Transactions, revision 0006).
    source: str = Field(default="relay")
    #: Claimed by this till without the relay's say (a Pull-only payment): to be sent to the relay.
    claim_pending: bool = Field(default=False)


class OpenQrRow(SQLModel, table=True):
    """A paybill QR code shown for a sale (revision 0007): open while `closed_at` is None, so a restart
    keeps watching for its payment (pos_app/engine/qr_tender.py)."""

    __tablename__ = "open_qr_codes"

    sale_id: str = Field(primary_key=True, max_length=16)
    amount_kes: int
    #: What the QR carries as `RefNo`: the account number (`BillRefNumber`) its payment comes back with.
    reference: str
    request_id: str = Field(default="")
    shown_at: datetime = Field(sa_column=utc_column(nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column())
    #: "paid_by_qr", "paid_otherwise", "given_back" (Esc) or "expired"; None while open.
    closed_why: str | None = None


# The writer builds rows with `model_construct` (no validation on the hot path). Reading an attribute of
# such a row needs SQLAlchemy's mappers configured, which otherwise happens only at the first ORM query:
# in a fresh process whose first read went through the writer, every attribute access raised.
configure_mappers()
