"""Kenyan mobile numbers as Daraja wants them: 12 digits, `2547XXXXXXXX` or `2541XXXXXXXX`.

Daraja refuses `07…` and `+254…` with `Bad Request - Invalid PhoneNumber` (docs/daraja.md §2,
§9 item 7), so every number is normalised before any request and refused with a message that
names the problem when it cannot be. Every Kenyan mobile number normalises; whether STK Push can
reach it is a separate question (`mpesa_msisdn`, docs/daraja.md §2c).
"""

from __future__ import annotations

import re

from daraja_core.mobile_networks import Network, network_of

_SEPARATORS = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"[0-9]+")


class InvalidPhone(ValueError):
    """The text is not a Kenyan mobile number; the message says what is wrong, for the cashier."""


class NotMpesa(InvalidPhone):
    """A valid Kenyan mobile number on a line STK Push cannot reach (docs/daraja.md §2c).

    `network` says which network the prefix belongs to, for the till to word its own message; the
    exception's text names only the prefix, never the whole number, so it is safe to log.
    """

    def __init__(self, msisdn: str, network: Network) -> None:
        self.msisdn = msisdn
        self.network = network
        self.prefix = "0" + msisdn[3:6]
        if network is Network.UNKNOWN:
            where = f"{self.prefix} is not a Safaricom prefix"
        else:
            where = f"{self.prefix} numbers are {network} lines"
        super().__init__(f"{where}: STK Push reaches Safaricom M-Pesa lines only.")


def normalise_msisdn(raw: str) -> str:
    """`0708 374 149`, `+254-708-374149`, `254708374149`, `0110 156 957` → `2547…`/`2541…`.

    Raises InvalidPhone with a message naming the problem.
    """
    stripped = (raw or "").strip()
    text = _SEPARATORS.sub("", stripped)
    if not text:
        raise InvalidPhone("Enter the customer's phone number.")
    if stripped.startswith(("-", ".")):
        # "-254708374149" is a negative number (a PhoneNumber sent as one), not a phone number.
        raise InvalidPhone("A phone number has digits only.")
    if text.startswith("+"):
        text = text[1:]
        if not text.startswith("254"):
            raise InvalidPhone("Only Kenyan numbers (+254) can pay by M-Pesa.")
    # ASCII only: str.isdigit() also takes "²" and "٣", which int() and Daraja do not.
    if not _DIGITS.fullmatch(text):
        raise InvalidPhone("A phone number has digits only.")
    if text.startswith("254"):
        local = text[3:]
    elif text.startswith("0"):
        local = text[1:]
    elif len(text) == 9 and text[0] in "71":
        local = text
    else:
        raise InvalidPhone("Start the number with 07, 01, +254 or 254.")
    if local[:1] not in ("7", "1"):
        raise InvalidPhone("This is not a mobile number: it must start with 07 or 01.")
    if len(local) < 9:
        raise InvalidPhone(f"The number is too short: {9 - len(local)} digit(s) missing.")
    if len(local) > 9:
        raise InvalidPhone(f"The number is too long: {len(local) - 9} digit(s) too many.")
    return "254" + local


def mpesa_msisdn(raw: str) -> str:
    """`normalise_msisdn`, then refuse a number STK Push cannot reach.

    Raises InvalidPhone when the text is not a Kenyan mobile number, NotMpesa (a subclass) when it is
    one on another network.
    """
    msisdn = normalise_msisdn(raw)
    network = network_of(msisdn)
    if not network.stk_push_reaches:
        raise NotMpesa(msisdn, network)
    return msisdn


def mask_msisdn(msisdn: str | int | None) -> str:
    """`254708374149` → `2547*****149`-style masking for logs and screens: keep the country code
    and network digit and the last three digits, hide the rest."""
    if msisdn is None:
        return ""
    digits = re.sub(r"\D", "", str(msisdn))
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:4] + "*" * (len(digits) - 7) + digits[-3:]


def format_local(msisdn: str) -> str:
    """`254708374149` → `0708 374 149`, the way a Kenyan reads a number."""
    digits = re.sub(r"\D", "", msisdn)
    if digits.startswith("254") and len(digits) == 12:
        local = "0" + digits[3:]
        return f"{local[:4]} {local[4:7]} {local[7:]}"
    return msisdn


def format_local_masked(msisdn: str) -> str:
    """`254708374149` → `0708 *** 149` for receipts and history rows; a number the relay masked already
    (`2547*****149`, a C2B payer) → `07** *** 149`."""
    if len(msisdn) == 12 and msisdn.startswith("254") and msisdn[5:9] == "****":
        return f"0{msisdn[3]}** *** {msisdn[-3:]}"
    local = format_local(msisdn)
    if len(local) == 12 and local[4] == " ":
        return f"{local[:4]} *** {local[9:]}"
    return mask_msisdn(msisdn)
