"""Identifiers shaped like Daraja's (docs/daraja.md §7): opaque to clients, realistic to read."""

from __future__ import annotations

import itertools
import secrets
import string
from datetime import datetime

from daraja_core.password import NAIROBI

_ALNUM_UPPER = string.ascii_uppercase + string.digits
_TOKEN_CHARS = string.ascii_letters + string.digits
_counter = itertools.count(1)


def new_access_token() -> str:
    """28 characters, like the tokens observed live (§1)."""
    return "".join(secrets.choice(_TOKEN_CHARS) for _ in range(28))


def _hex(length: int) -> str:
    return secrets.token_hex(length)[:length]


def new_request_id() -> str:
    """`fe1e-4199-8a60-70ebcbfc601826622175` style (§2b)."""
    return f"{_hex(4)}-{_hex(4)}-{_hex(4)}-{_hex(12)}{next(_counter) % 1_000_000:06d}"


def new_merchant_request_id() -> str:
    """`2654-4b64-97ff-b827b542881d3130` style (§7)."""
    return f"{_hex(4)}-{_hex(4)}-{_hex(4)}-{_hex(12)}{next(_counter) % 10_000:04d}"


def checkout_request_id(moment: datetime, msisdn: str, fraction: int) -> str:
    """`ws_CO_` + DDMMYYYYHHmmss (EAT) + 3 fraction digits + last 9 MSISDN digits (§7, 2022+ form)."""
    local = moment.astimezone(NAIROBI)
    return f"ws_CO_{local:%d%m%Y%H%M%S}{fraction % 1000:03d}{msisdn[-9:]}"


def _year_letter(year: int) -> str:
    # L=2017, M=2018 … S=2024, T=2025, U=2026 (§7); wraps after Z so it never leaves [A-Z].
    return string.ascii_uppercase[(year - 2017 + 11) % 26]


def _day_char(day: int) -> str:
    # 1–9 then A=10 … V=31 (§7).
    return str(day) if day < 10 else string.ascii_uppercase[day - 10]


#: Characters 4–6 of every simulator receipt: a demo receipt is recognisable on a screen or a slip.
#: Not proof by itself (a real receipt could contain "SIM" there by chance); demo mode is.
RECEIPT_DEMO_MARK = "SIM"


def new_receipt_number(moment: datetime) -> str:
    """10 chars `[A-Z0-9]`: year, month, day of the Nairobi date (§7), `SIM`, then 4 random characters."""
    local = moment.astimezone(NAIROBI)
    date_part = _year_letter(local.year) + string.ascii_uppercase[local.month - 1] + _day_char(local.day)
    tail = "".join(secrets.choice(_ALNUM_UPPER) for _ in range(4))
    return date_part + RECEIPT_DEMO_MARK + tail


def new_originator_conversation_id() -> str:
    """`6e86-45dd-91ac-fd5d4178ab523408729` style: C2B register and simulate answers (§6)."""
    return f"{_hex(4)}-{_hex(4)}-{_hex(4)}-{_hex(12)}{next(_counter) % 10_000_000:07d}"


def new_reference_id() -> str:
    """`16738-27456357-1` style: Dynamic QR's RequestID, Pull Transactions' ResponseRefID (§6, §6b)."""
    return f"{secrets.randbelow(90_000) + 10_000}-{secrets.randbelow(90_000_000) + 10_000_000}-1"


def new_conversation_id(moment: datetime) -> str:
    """`AG_20191219_000043fdf61864fe9ff5` style, dated in Nairobi time (§6b, §7)."""
    return f"AG_{moment.astimezone(NAIROBI):%Y%m%d}_{_hex(20)}"
