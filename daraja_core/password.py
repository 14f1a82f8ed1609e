"""The STK Push / STK Query Password and Timestamp (docs/daraja.md §2).

Password = base64(BusinessShortCode + Passkey + Timestamp); Timestamp is `YYYYMMDDHHmmss` in
Africa/Nairobi and must be the same string that went into the Password, else Daraja answers
`500.001.1001 Wrong credentials`.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

NAIROBI = ZoneInfo("Africa/Nairobi")

#: The public sandbox Lipa na M-Pesa Online shortcode and passkey (docs/daraja.md §2).
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


def nairobi_timestamp(now: datetime | None = None) -> str:
    """`YYYYMMDDHHmmss` in East Africa Time for an aware datetime (now when None)."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("nairobi_timestamp needs a timezone-aware datetime")
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str | int, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


def parse_nairobi_timestamp(value: str | int) -> datetime:
    """A Daraja 14-digit `YYYYMMDDHHmmss` (EAT) as an aware UTC datetime; ValueError if malformed."""
    text = str(value).strip()
    if len(text) != 14 or not text.isascii() or not text.isdigit():
        raise ValueError(f"not a 14-digit Daraja timestamp: {text!r}")
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI).astimezone(UTC)
