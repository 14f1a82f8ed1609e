"""STK Push / STK Query request checks, with Daraja's own codes and messages (docs/daraja.md §2, §2b).

Daraja's order of checks is not documented; this one checks the credentials right after the fields
they are made of. Messages marked [U] below are the simulator's guess in Daraja's style (the reference
has no live sample for them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from daraja_core.mobile_networks import stk_push_reaches
from daraja_core.password import parse_nairobi_timestamp, stk_password
from daraja_core.simulator import errors
from daraja_core.simulator.errors import DarajaError

PAYBILL = "CustomerPayBillOnline"
BUY_GOODS = "CustomerBuyGoodsOnline"

_MSISDN = re.compile(r"254[17]\d{8}")
SHORTCODE_PATTERN = re.compile(r"\d{5,8}")
_AMOUNT = re.compile(r"\d+(\.\d+)?")
_HOSTNAME = re.compile(r"[A-Za-z0-9.-]+")
# Hosts people paste from tutorials; Daraja refuses them (LNM#40, umoja-hub; §2 CallBackURL, §9 item 6).
# `example.invalid` is NOT here: Daraja accepted it live (§2).
_PLACEHOLDER_HOSTS = ("example.com", "example.org", "example.net")
_PLACEHOLDER_WORDS = ("yourdomain", "your-domain", "your_domain", "mydomain", "yoursite", "your-ngrok")


class RequestRefused(Exception):
    def __init__(self, error: DarajaError) -> None:
        super().__init__(error.outcome)
        self.error = error


@dataclass(frozen=True)
class PushRequest:
    shortcode: str
    transaction_type: str
    amount_kes: int
    party_a: str
    party_b: str
    phone: str
    callback_url: str
    account_reference: str
    description: str


@dataclass(frozen=True)
class QueryRequest:
    shortcode: str
    checkout_request_id: str


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise RequestRefused(errors.INVALID_PAYLOAD) from None
    if not isinstance(body, dict):
        raise RequestRefused(errors.INVALID_PAYLOAD)
    return body


def scalar_text(value: Any) -> str | None:
    """Daraja takes numbers or strings for numeric fields (§2); bools and objects are neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | Decimal):
        return str(value)
    return None


def check_shortcode(body: dict[str, Any]) -> str:
    text = scalar_text(body.get("BusinessShortCode"))
    if text is None or not SHORTCODE_PATTERN.fullmatch(text):
        raise RequestRefused(errors.bad_request("BusinessShortCode"))
    return text


def check_credentials(body: dict[str, Any], shortcode: str, passkeys: dict[str, str]) -> None:
    """Timestamp format, then Password = base64(shortcode + passkey + timestamp) (§2)."""
    timestamp = scalar_text(body.get("Timestamp"))
    if timestamp is None:
        raise RequestRefused(errors.bad_request("Timestamp"))
    try:
        parse_nairobi_timestamp(timestamp)
    except ValueError:
        raise RequestRefused(errors.bad_request("Timestamp")) from None
    passkey = passkeys.get(shortcode)
    if passkey is None:
        raise RequestRefused(errors.MERCHANT_DOES_NOT_EXIST)
    # Pain point 2: any mismatch of shortcode, passkey or timestamp is "Wrong credentials".
    if body.get("Password") != stk_password(shortcode, passkey, timestamp):
        raise RequestRefused(errors.WRONG_CREDENTIALS)


def whole_amount_kes(value: Any) -> int:
    # Whole shillings, at least 1 (§2 Amount; decimals → Invalid Amount, OSEN#6). "1" and 1 are both fine.
    text = scalar_text(value)
    if text is None or not _AMOUNT.fullmatch(text):
        raise RequestRefused(errors.bad_request("Amount"))
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise RequestRefused(errors.bad_request("Amount")) from None
    if amount != amount.to_integral_value() or amount < 1:
        raise RequestRefused(errors.bad_request("Amount"))
    return int(amount)


def _msisdn(value: Any) -> str:
    # `07…`/`+254…` → Invalid PhoneNumber (§2 PartyA, §9 item 7); 2541… is live too.
    # An Airtel, Telkom or Equitel line has no M-Pesa to prompt: refused the same way (§2c; the exact
    # answer Daraja gives for one is unconfirmed).
    text = scalar_text(value)
    if text is None or not _MSISDN.fullmatch(text) or not stk_push_reaches(text):
        raise RequestRefused(errors.bad_request("PhoneNumber"))
    return text


def callback_url_problem(url: Any) -> str | None:
    """Why Daraja would refuse this CallBackURL, or None.

    Deviation: Daraja needs a public URL; the simulator accepts localhost and loopback addresses
    because demo mode and the tests deliver callbacks on this machine.
    """
    if not isinstance(url, str) or not url:
        return "missing"
    if any(ch.isspace() for ch in url):
        return "contains spaces"  # LNM#40: a stray space is enough
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "not http(s)"
    host = parts.hostname or ""
    if not host:
        return "no host"
    if ":" not in host and not _HOSTNAME.fullmatch(host):
        return "not a host name"
    lowered = host.lower()
    if any(lowered == p or lowered.endswith("." + p) for p in _PLACEHOLDER_HOSTS):
        return "placeholder host"
    if any(word in url.lower() for word in _PLACEHOLDER_WORDS):
        return "placeholder text"
    try:
        _ = parts.port
    except ValueError:
        return "bad port"
    return None


def check_push(body: dict[str, Any], passkeys: dict[str, str]) -> PushRequest:
    shortcode = check_shortcode(body)
    check_credentials(body, shortcode, passkeys)
    transaction_type = body.get("TransactionType")
    if transaction_type not in (PAYBILL, BUY_GOODS):
        raise RequestRefused(errors.bad_request("TransactionType"))  # [U] wording
    amount_kes = whole_amount_kes(body.get("Amount"))
    party_a = _msisdn(body.get("PartyA"))
    party_b = scalar_text(body.get("PartyB"))
    if party_b is None or not SHORTCODE_PATTERN.fullmatch(party_b):
        raise RequestRefused(errors.bad_request("PartyB"))  # [U] wording
    phone = _msisdn(body.get("PhoneNumber"))
    callback_url = body.get("CallBackURL")
    if not isinstance(callback_url, str) or callback_url_problem(callback_url) is not None:
        raise RequestRefused(errors.bad_request("CallBackURL"))
    account_reference = scalar_text(body.get("AccountReference"))
    if not account_reference:
        # The doc calls it mandatory; its 12-character limit is not enforced live (§2), so neither is it here.
        raise RequestRefused(errors.bad_request("AccountReference"))  # [U] wording
    description = body.get("TransactionDesc")
    if not isinstance(description, str) or not description.strip():
        # Live: omitting TransactionDesc → "Invalid Remarks", although the doc calls it optional (§2, §10).
        raise RequestRefused(errors.bad_request("Remarks"))
    return PushRequest(
        shortcode=shortcode,
        transaction_type=transaction_type,
        amount_kes=amount_kes,
        party_a=party_a,
        party_b=party_b,
        phone=phone,
        callback_url=callback_url,
        account_reference=account_reference,
        description=description,
    )


def check_query(body: dict[str, Any], passkeys: dict[str, str]) -> QueryRequest:
    shortcode = check_shortcode(body)
    check_credentials(body, shortcode, passkeys)
    checkout_request_id = body.get("CheckoutRequestID")
    if not isinstance(checkout_request_id, str) or not checkout_request_id:
        raise RequestRefused(errors.TRANSACTION_DOES_NOT_EXIST)
    return QueryRequest(shortcode=shortcode, checkout_request_id=checkout_request_id)
