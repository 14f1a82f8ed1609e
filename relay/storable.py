"""What of a parsed callback the relay keeps, decided before anything is stored, alike on every database.

A callback's text can hold what no database stores: an unpaired surrogate (`"\\ud800"` is valid JSON;
UTF-8 cannot encode it, so SQLite's driver and asyncpg both refuse it), a NUL (PostgreSQL text refuses
it, SQLite keeps it), a value longer than its column (PostgreSQL enforces `varchar(n)`, SQLite does not).
Left to the database, one such callback failed the whole group-commit batch it shared with others, and
PostgreSQL left pending a payment SQLite applied. So the callback is fitted first:

- `CheckoutRequestID` is the key results are deduplicated and settled on: it is kept exactly or the
  callback is malformed (kept raw, never settles anything).
- Decision values are exact by construction: `ResultCode` only ever matches the catalogue when it is
  short and clean (a cleaned or cut code is an unknown one), `amount_kes` is None beyond a 32-bit integer
  (`daraja_core.callback.MAX_AMOUNT_KES`), the phone is 12 ASCII digits.
- Text shown to people (`ResultDesc`, `MerchantRequestID`, the receipt, the Amount as written) has
  NUL and unpaired surrogates replaced by U+FFFD and is cut to its column; the raw row's `error` says
  what was altered, and the raw body keeps the original. An Amount whose written form does not fit is
  not a shilling amount at all: it settles nothing (the payment is flagged `amount_mismatch`).
"""

from __future__ import annotations

import dataclasses
import re

from daraja_core.callback import CallbackParseError, StkCallback
from relay.models import raw_table, result_table

# NUL and the UTF-16 surrogate range: a str holding one came from a JSON escape, never from UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _length(column: object) -> int:
    length = getattr(getattr(column, "type", None), "length", None)
    if not isinstance(length, int):
        raise TypeError(f"{column} has no length")
    return length


CHECKOUT_ID_MAX = min(_length(result_table.c.checkout_request_id), _length(raw_table.c.checkout_request_id))
MERCHANT_ID_MAX = _length(result_table.c.merchant_request_id)
RESULT_CODE_MAX = _length(result_table.c.result_code)
RECEIPT_MAX = _length(result_table.c.receipt)
AMOUNT_TEXT_MAX = _length(result_table.c.amount_text)


def clean_text(text: str) -> str:
    """`text` with NUL and unpaired surrogates replaced by U+FFFD: storable on SQLite and PostgreSQL."""
    return _UNSTORABLE.sub("\ufffd", text)


def fit_callback(parsed: StkCallback) -> tuple[StkCallback, str | None]:
    """The callback as the relay stores it, and a note on what was altered (None when nothing was).

    Raises CallbackParseError when the CheckoutRequestID cannot be kept exactly.
    """
    checkout_id = parsed.checkout_request_id
    if _UNSTORABLE.search(checkout_id):
        raise CallbackParseError("CheckoutRequestID holds NUL or unpaired surrogate characters")
    if len(checkout_id) > CHECKOUT_ID_MAX:
        raise CallbackParseError(f"CheckoutRequestID is longer than {CHECKOUT_ID_MAX} characters")
    notes: list[str] = []

    def fit(name: str, value: str, limit: int | None) -> str:
        fitted = clean_text(value)
        if fitted != value:
            notes.append(f"{name}: NUL or unpaired surrogates replaced by U+FFFD")
        if limit is not None and len(fitted) > limit:
            notes.append(f"{name}: cut to {limit} characters")
            fitted = fitted[:limit]
        return fitted

    amount = parsed.amount
    if amount is not None and len(str(amount)) > AMOUNT_TEXT_MAX:
        notes.append(f"Amount: longer than {AMOUNT_TEXT_MAX} characters, not taken as an amount")
        amount = None
    fitted = dataclasses.replace(
        parsed,
        merchant_request_id=fit("MerchantRequestID", parsed.merchant_request_id, MERCHANT_ID_MAX),
        result_code=fit("ResultCode", parsed.result_code, RESULT_CODE_MAX),
        result_desc=fit("ResultDesc", parsed.result_desc, None),
        receipt=None if parsed.receipt is None else fit("MpesaReceiptNumber", parsed.receipt, RECEIPT_MAX),
        amount=amount,
    )
    if not notes:
        return parsed, None
    return fitted, "kept altered: " + "; ".join(notes)
