"""Realistic STK callbacks, as Safaricom POSTs them (docs/daraja.md §4), for
`mpesa-relay simulate-callback` and the tests.

Numbers are numbers on the wire (Amount, TransactionDate, PhoneNumber); a failure carries no
CallbackMetadata; the receipt number encodes the date the way real ones do (§7).
"""

from __future__ import annotations

import json
import secrets
import string
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from daraja_core.results import normalise_code

NAIROBI = ZoneInfo("Africa/Nairobi")

# ResultDesc texts as seen on the wire (§4a); map on ResultCode, never on these.
RESULT_DESCS: dict[str, str] = {
    "0": "The service request is processed successfully.",
    "1": "The balance is insufficient for the transaction.",
    "2": "Declined due to limit rule: less than the minimum transaction amount.",
    "3": "Declined due to limit rule: greater than the maximum transaction amount.",
    "4": "Declined due to limit rule: would exceed daily transfer limit.",
    "8": "Declined due to limit rule: would exceed the maximum balance.",
    "17": "Rule limited.",
    "26": "System busy. The service request is rejected.",
    "1001": "Unable to lock subscriber, a transaction is already in process for the current subscriber.",
    "1019": "Transaction has expired",
    "1025": "An error occurred while sending a push request.",
    "1031": "Request cancelled by user",
    "1032": "Request cancelled by user",
    "1036": "SMSC ACK timeout.",
    "1037": "DS timeout user cannot be reached",
    "2001": "The initiator information is invalid.",
    "2028": "The request is not permitted according to product assignment.",
    "8006": "The security credential is locked.",
    "9999": "Error while sending push request.",
    "SFC_IC0003": "The operator does not exist.",
}

_RECEIPT_CHARS = string.ascii_uppercase + string.digits
_DAY_CHARS = "123456789ABCDEFGHIJKLMNOPQRSTUV"


def receipt_for(moment: datetime) -> str:
    """A receipt shaped like Safaricom's: year letter (L=2017…), month letter (A=Jan), day, 7 random."""
    local = moment.astimezone(NAIROBI)
    year = chr(ord("L") + (local.year - 2017) % 15)
    month = chr(ord("A") + local.month - 1)
    day = _DAY_CHARS[local.day - 1]
    return year + month + day + "".join(secrets.choice(_RECEIPT_CHARS) for _ in range(7))


def stk_callback_body(
    checkout_request_id: str,
    *,
    result_code: int | str = 0,
    amount: int | str = 1,
    receipt: str | None = None,
    phone: str = "254708374149",
    merchant_request_id: str | None = None,
    result_desc: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    code = normalise_code(result_code)
    moment = when or datetime.now(NAIROBI)
    stk: dict[str, Any] = {
        "MerchantRequestID": merchant_request_id
        or f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(14)}",
        "CheckoutRequestID": checkout_request_id,
        # Numeric codes are numbers on the wire; only codes like SFC_IC0003 are strings (§4).
        "ResultCode": int(code) if code.isdigit() else code,
        "ResultDesc": result_desc if result_desc is not None else RESULT_DESCS.get(code, "Unknown result"),
    }
    if code == "0":
        amount_value: Any = int(amount) if str(amount).isdigit() else float(amount)
        stk["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": amount_value},
                {"Name": "MpesaReceiptNumber", "Value": receipt or receipt_for(moment)},
                {
                    "Name": "TransactionDate",
                    "Value": int(moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")),
                },
                {"Name": "PhoneNumber", "Value": int(phone)},
            ]
        }
    return {"Body": {"stkCallback": stk}}


def stk_callback_bytes(checkout_request_id: str, **options: Any) -> bytes:
    return json.dumps(stk_callback_body(checkout_request_id, **options)).encode()
