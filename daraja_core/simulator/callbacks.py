"""The STK callback the simulator POSTs, in the shape Daraja really sends (docs/daraja.md §4)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from daraja_core.password import nairobi_timestamp
from daraja_core.phones import mask_msisdn

CALLBACK_HEADERS_BASE = {
    # §4 "Delivery": this exact content type, plus a Businessshortcode header.
    "Content-Type": "application/json;charset=UTF-8",
    # Not sent by Daraja: lets whoever receives it see it is a demo (ASCII only, it is a header).
    "X-Daraja-Simulator": "SIMULATOR - no real money",
}


def stk_callback_body(
    *,
    merchant_request_id: str,
    checkout_request_id: str,
    result_code: str,
    result_desc: str,
    amount_kes: int | None = None,
    receipt: str | None = None,
    transaction_date: datetime | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """ResultCode is a number, except non-numeric codes such as SFC_IC0003, which stay strings (§4).

    CallbackMetadata only on success (§4); items in the live order Amount, MpesaReceiptNumber,
    Balance (present with no Value, as in 2017–2023 samples), TransactionDate, PhoneNumber, the last two
    14- and 12-digit numbers (beyond int32).
    """
    code: int | str = int(result_code) if result_code.isdigit() else result_code
    callback: dict[str, Any] = {
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": code,
        "ResultDesc": result_desc,
    }
    if result_code == "0":
        if amount_kes is None or receipt is None or transaction_date is None or phone is None:
            raise ValueError("a paid callback needs amount, receipt, date and phone")
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": amount_kes},
                {"Name": "MpesaReceiptNumber", "Value": receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(nairobi_timestamp(transaction_date))},
                {"Name": "PhoneNumber", "Value": int(phone)},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def masked_for_log(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of a callback body with the customer's phone masked (logs never hold full numbers)."""
    callback = dict(body["Body"]["stkCallback"])
    metadata = callback.get("CallbackMetadata")
    if metadata is not None:
        items = []
        for item in metadata["Item"]:
            if item.get("Name") == "PhoneNumber":
                item = {"Name": "PhoneNumber", "Value": mask_msisdn(item.get("Value"))}
            items.append(item)
        callback["CallbackMetadata"] = {"Item": items}
    return {"Body": {"stkCallback": callback}}


_SECRET_LOOKING = re.compile(r"[A-Za-z0-9_\-]{16,}")


def redact_url(url: str) -> str:
    """The callback URL for the log, without its secrets.

    The relay puts a per-till secret token in the callback path (/api/v1/callbacks/stk/{token},
    docs/architecture.md); long token-like path segments keep 4 characters, and the query is dropped.
    """
    parts = urlsplit(url)
    segments = [
        segment[:4] + "…" if _SECRET_LOOKING.fullmatch(segment) else segment
        for segment in parts.path.split("/")
    ]
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, "/".join(segments), "", ""))
