"""Reading an amount as a cashier writes it: `1250`, `1,250`, `1 250`, `KES 1,250.00`, `Ksh1250`, `1,250/=`.

M-Pesa takes whole shillings (docs/daraja.md §2), so anything with cents is refused, never rounded, and
a sign, a stray letter or a badly grouped number is refused with the reason rather than read some other
way: the number returned is always the digits the cashier typed before any `.00`, in the same order.
Pure (no Qt), so the window, the tests and anything else read amounts the same way.
"""

from __future__ import annotations

import re

# A currency word in front ("KES", "Ksh", "Kshs", "Ksh.", "Sh") and the "/=" or "/-" Kenyans write after.
_PREFIX = re.compile(r"^(?:kes|kshs?|shs?)\.?\s*", re.IGNORECASE)
_SUFFIX = re.compile(r"\s*/[=-]$")
_MINUS = ("-", "\u2212")  # the ASCII hyphen-minus and the typographic minus sign
# Thousands separators: comma, space, no-break space, narrow no-break space (what spreadsheets paste).
_PLAIN = re.compile(r"[0-9]+")
_GROUPED = re.compile(r"[0-9]{1,3}(?P<sep>[, \u00a0\u202f])[0-9]{3}(?:(?P=sep)[0-9]{3})*")
_CENTS = re.compile(r"(?P<whole>.+)\.(?P<cents>[0-9]+)")


class AmountRefused(ValueError):
    """The text is not an amount M-Pesa can take; the reason is a sentence for the cashier."""

    def __init__(self, message_en: str, message_sw: str) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_sw = message_sw

    def reason(self, lang: str) -> str:
        return self.message_sw if lang == "sw" else self.message_en


def _missing() -> AmountRefused:
    return AmountRefused("Enter the amount in whole shillings.", "Weka kiasi kwa shilingi kamili.")


def _unreadable() -> AmountRefused:
    return AmountRefused(
        "Type the amount in figures, for example 1,250.", "Andika kiasi kwa tarakimu, kwa mfano 1,250."
    )


def _below_one() -> AmountRefused:
    return AmountRefused("The amount must be at least KES 1.", "Kiasi lazima kiwe angalau KES 1.")


def _cents() -> AmountRefused:
    return AmountRefused(
        "M-Pesa takes whole shillings only: leave out the cents.",
        "M-Pesa inapokea shilingi kamili tu: usiweke senti.",
    )


def _too_big(max_kes: int) -> AmountRefused:
    return AmountRefused(
        f"M-Pesa takes at most KES {max_kes:,} at once.",
        f"M-Pesa inapokea hadi KES {max_kes:,} kwa mara moja.",
    )


def parse_amount(text: str, max_kes: int) -> int:
    """Whole shillings from what the cashier typed or pasted; AmountRefused (a ValueError) naming why not."""
    body = text.strip()
    if not body:
        raise _missing()
    body = _SUFFIX.sub("", _PREFIX.sub("", body))
    negative = body.startswith(_MINUS)
    if negative:
        body = body[1:].lstrip()
    cents = _CENTS.fullmatch(body)
    if cents is not None:
        body = cents["whole"]
    if not (_PLAIN.fullmatch(body) or _GROUPED.fullmatch(body)):
        raise _unreadable()
    if cents is not None:
        if len(cents["cents"]) > 2:  # "1.250": a thousands point, or a slip; either way not shillings.cents
            raise _unreadable()
        if cents["cents"].strip("0"):
            raise _cents()
    amount_kes = int(re.sub(r"[^0-9]", "", body))
    if negative or amount_kes < 1:
        raise _below_one()
    if amount_kes > max_kes:
        raise _too_big(max_kes)
    return amount_kes
