"""Parse the STK Push callback Safaricom POSTs to the CallBackURL (docs/daraja.md §4).

`{"Body": {"stkCallback": {"MerchantRequestID", "CheckoutRequestID", "ResultCode", "ResultDesc",
"CallbackMetadata"?}}}`. Metadata items are read by Name, never by position (§4: Safaricom's own PHP
SDK reads them by index and breaks when Balance is absent). Anything that is not this shape raises
CallbackParseError so the caller can keep the raw body and record the failure: a callback is
delivered once (§4), so losing its body would lose the payment's result.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from daraja_core.password import parse_nairobi_timestamp
from daraja_core.phones import InvalidPhone, normalise_msisdn
from daraja_core.results import normalise_code

# Far above any M-Pesa amount: such an Amount cannot be a shilling count.
# 2**31 because every amount below it fits a 32-bit SQL INTEGER on SQLite and PostgreSQL alike, so a
# store decides the same callback the same way; and int() of 1e999999999 would build a billion-digit
# number (minutes of CPU).
MAX_AMOUNT_KES = 2**31


# An amount written as text (hand-made payloads, §4): ASCII digits with an optional fraction. A JSON
# number is a number however it is written; text is read strictly.
_DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")


class CallbackParseError(ValueError):
    """The body is not an STK callback; the message says what is wrong."""


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: str
    result_desc: str
    amount: Decimal | None
    receipt: str | None
    transaction_date: datetime | None  # aware UTC
    phone: str | None  # 12-digit MSISDN
    balance: Decimal | None

    @property
    def amount_kes(self) -> int | None:
        """Whole shillings; None when absent, not whole or absurdly large (then it is an anomaly)."""
        if self.amount is None or self.amount.copy_abs() >= MAX_AMOUNT_KES:
            return None
        if self.amount != self.amount.to_integral_value():
            return None
        return int(self.amount)

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


def parse_stk_callback(body: bytes | str | dict[str, Any]) -> StkCallback:
    """Parse a callback from the raw request body or already-decoded JSON."""
    payload = _decode(body)
    if not isinstance(payload, dict):
        raise CallbackParseError("the callback is not a JSON object")
    outer = payload.get("Body")
    if not isinstance(outer, dict):
        raise CallbackParseError("the callback has no 'Body' object")
    stk = outer.get("stkCallback")
    if not isinstance(stk, dict):
        raise CallbackParseError("the callback has no 'Body.stkCallback' object")

    checkout_request_id = stk.get("CheckoutRequestID")
    if not isinstance(checkout_request_id, str) or not checkout_request_id.strip():
        raise CallbackParseError("the callback has no CheckoutRequestID")
    merchant_request_id = stk.get("MerchantRequestID", "")
    if not isinstance(merchant_request_id, str):
        raise CallbackParseError("MerchantRequestID is not a string")
    result_code = _result_code(stk.get("ResultCode"))
    result_desc = stk.get("ResultDesc", "")
    if result_desc is None:
        result_desc = ""
    if not isinstance(result_desc, str):
        raise CallbackParseError("ResultDesc is not a string")

    items = _metadata_items(stk.get("CallbackMetadata"))
    return StkCallback(
        merchant_request_id=merchant_request_id.strip(),
        checkout_request_id=checkout_request_id.strip(),
        result_code=result_code,
        result_desc=result_desc,
        amount=_amount(items),
        receipt=_receipt(items),
        transaction_date=_transaction_date(items),
        phone=_phone(items),
        balance=_balance(items),
    )


def _decode(body: bytes | str | dict[str, Any]) -> Any:
    if isinstance(body, dict):
        return body
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CallbackParseError("the callback body is not UTF-8 text") from exc
    if not isinstance(body, str):
        raise CallbackParseError(f"cannot parse a callback from {type(body).__name__}")
    try:
        # Decimal keeps `1.00` exact (§4: Amount is a decimal literal on the wire).
        return json.loads(body, parse_float=Decimal, object_pairs_hook=_object_without_duplicates)
    except CallbackParseError:
        raise
    except (ValueError, RecursionError) as exc:
        raise CallbackParseError(f"the callback body is not JSON: {exc}") from exc


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key repeats.

    `{"ResultCode": 1032, …, "ResultCode": 0}` is read last-wins by json.loads, first-wins by other
    parsers: an ambiguous callback is kept raw as malformed and settles nothing.
    """
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise CallbackParseError(f"the callback repeats the key {key!r}: it is ambiguous")
        found[key] = value
    return found


def _result_code(value: Any) -> str:
    # A number except for non-numeric codes, sent as strings ("SFC_IC0003"), §4.
    if isinstance(value, bool) or value is None:
        raise CallbackParseError("the callback has no ResultCode")
    if isinstance(value, int | str):
        code = normalise_code(value)
    elif _whole(value):
        code = str(int(value))
    else:
        raise CallbackParseError(f"ResultCode has an unexpected type: {type(value).__name__}")
    if not code:
        raise CallbackParseError("the callback has an empty ResultCode")
    return code


def _whole(value: Any) -> bool:
    """A float/Decimal that is a whole number (JSON numbers decoded by someone else, e.g. `0.0`)."""
    if isinstance(value, float | Decimal):
        return math.isfinite(value) and value == int(value)
    return False


def _metadata_items(metadata: Any) -> dict[str, Any]:
    """Name → Value ("missing" marked by absence of the key in the item), §4."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise CallbackParseError("CallbackMetadata is not an object")
    raw_items = metadata.get("Item", [])
    if raw_items is None:
        return {}
    if not isinstance(raw_items, list):
        raise CallbackParseError("CallbackMetadata.Item is not a list")
    found: dict[str, Any] = {}
    for item in raw_items:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise CallbackParseError("a CallbackMetadata item has no Name")
        if item["Name"] in found:
            # Two Amounts (or receipts, phones) cannot both be the payment's: ambiguous, like a repeated key.
            raise CallbackParseError(f"CallbackMetadata has two items named {item['Name']!r}: ambiguous")
        found[item["Name"]] = item.get("Value")
    return found


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        # ASCII digits only: Decimal() also reads "1e1", "１０" (fullwidth) and "٣" (Arabic-Indic).
        if not _DECIMAL_TEXT.fullmatch(value.strip()):
            return None
        number = Decimal(value.strip())
    else:
        return None
    return number if number.is_finite() else None


def _amount(items: dict[str, Any]) -> Decimal | None:
    if "Amount" not in items or items["Amount"] is None:
        return None
    number = _decimal(items["Amount"])
    if number is None:
        raise CallbackParseError(f"Amount is not a number: {items['Amount']!r}")
    return number


def _receipt(items: dict[str, Any]) -> str | None:
    value = items.get("MpesaReceiptNumber")
    if value is None:
        return None
    if not isinstance(value, str):
        raise CallbackParseError("MpesaReceiptNumber is not a string")
    return value.strip() or None


def _balance(items: dict[str, Any]) -> Decimal | None:
    # 2017–2023 callbacks carry `{"Name": "Balance"}` with no Value; a `{Amount={BasicAmount=…}}`
    # string form is unconfirmed for STK (§4). Balance is informational, so an odd form is None.
    return _decimal(items.get("Balance"))


def _transaction_date(items: dict[str, Any]) -> datetime | None:
    value = items.get("TransactionDate")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise CallbackParseError(f"TransactionDate is not a 14-digit number: {value!r}")
    try:
        # 14 digits `YYYYMMDDHHmmss` in EAT, a number that exceeds int32 (§4).
        return parse_nairobi_timestamp(str(value))
    except ValueError as exc:
        raise CallbackParseError(f"TransactionDate is not a valid timestamp: {value!r}") from exc


def _phone(items: dict[str, Any]) -> str | None:
    value = items.get("PhoneNumber")
    if value is None or isinstance(value, bool):
        return None
    if _whole(value):
        value = int(value)
    if not isinstance(value, int | str):
        raise CallbackParseError(f"PhoneNumber is not a number: {value!r}")
    try:
        return normalise_msisdn(str(value))
    except InvalidPhone:
        # A masked or hashed number is unconfirmed for STK but real in C2B (§4, §6). Keeping the
        # payment with no phone (so no phone check) beats dropping a paid callback.
        return None
