"""Parse the C2B validation and confirmation bodies Safaricom POSTs to a shortcode's URLs (docs/daraja.md §6).

Every value is a string: `TransactionType`, `TransID`, `TransTime` (`YYYYMMDDHHmmss`, Nairobi),
`TransAmount` (`"5.00"`), `BusinessShortCode`, `BillRefNumber`, `InvoiceNumber`, `OrgAccountBalance`,
`ThirdPartyTransID`, `MSISDN` (masked `2547 ***** 126` in v2, a SHA-256 hex digest in v1), `FirstName`,
`MiddleName`, `LastName`. Anything that cannot be a payment (no receipt, no whole positive amount, no
shortcode) raises C2bParseError, so the caller keeps the raw body and never offers it as a payment.

The payer's number is only ever kept masked: a v1 digest of a 12-digit number is as good as the number
(there are few enough numbers to hash them all), so it is dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from daraja_core.password import parse_nairobi_timestamp
from daraja_core.phones import mask_msisdn

#: Receipts are 10 characters `[A-Z0-9]` (docs/daraja.md §7); a little slack, never unbounded.
_TRANS_ID = re.compile(r"[A-Z0-9]{6,20}")
_SHORTCODE = re.compile(r"\d{5,8}")
#: The v2 masked form, `2547 ***** 126` (spaces optional).
_MASKED = re.compile(r"(\d{4})\s*\*+\s*(\d{3})")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
MAX_AMOUNT_KES = 10**9
# BillRefNumber is at most 20 characters (§6); names are free text: kept, but bounded.
_TEXT_MAX = 100


class C2bParseError(ValueError):
    """The body is not a C2B notification that could be a payment; the message says what is wrong."""


@dataclass(frozen=True)
class C2bNotification:
    trans_id: str
    transaction_type: str
    trans_time: datetime | None  # aware UTC; None when TransTime is missing or malformed
    amount_kes: int
    shortcode: str
    bill_ref: str
    first_name: str
    phone_masked: str  # `2547*****126`, or "" when only a v1 digest (or nothing) was sent


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise C2bParseError(f"{name} is not text")
    return str(value).strip()[:_TEXT_MAX]


def _amount_kes(text: str) -> int:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise C2bParseError(f"TransAmount {text[:40]!r} is not a number") from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise C2bParseError(f"TransAmount {text[:40]!r} is not whole shillings")
    if not 1 <= amount <= MAX_AMOUNT_KES:
        raise C2bParseError(f"TransAmount {text[:40]!r} is out of range")
    return int(amount)


def _phone_masked(text: str) -> str:
    compact = text.replace(" ", "")
    if _HEX_DIGEST.fullmatch(compact) or not compact:
        return ""
    masked = _MASKED.fullmatch(text.strip())
    if masked:
        return f"{masked.group(1)}*****{masked.group(2)}"
    if compact.isdigit() and len(compact) >= 9:
        return mask_msisdn(compact)
    return ""


def parse_c2b_notification(body: bytes | str | dict[str, Any]) -> C2bNotification:
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise C2bParseError(f"not JSON: {str(error)[:200]}") from None
    if not isinstance(body, dict):
        raise C2bParseError("not a JSON object")
    trans_id = _text(body, "TransID").upper()
    if not _TRANS_ID.fullmatch(trans_id):
        raise C2bParseError("TransID is missing or not a receipt")
    shortcode = _text(body, "BusinessShortCode")
    if not _SHORTCODE.fullmatch(shortcode):
        raise C2bParseError("BusinessShortCode is missing or not a shortcode")
    try:
        trans_time: datetime | None = parse_nairobi_timestamp(_text(body, "TransTime"))
    except ValueError:
        trans_time = None
    return C2bNotification(
        trans_id=trans_id,
        transaction_type=_text(body, "TransactionType"),
        trans_time=trans_time,
        amount_kes=_amount_kes(_text(body, "TransAmount")),
        shortcode=shortcode,
        bill_ref=_text(body, "BillRefNumber")[:20],
        first_name=_text(body, "FirstName"),
        phone_masked=_phone_masked(_text(body, "MSISDN")),
    )
