"""A paid sale as a printed receipt: the data, its English and Kiswahili labels, and its ESC/POS commands.

No Qt and no I/O here: `write_receipt` drives any python-escpos printer object, so the bytes a test reads
from `render_receipt` are the bytes a real printer gets from `print_receipt` (`pos_app/printing/printer.py`).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from daraja_core.password import NAIROBI
from pos_app.printing._escpos import Dummy

Language = Literal["en", "sw"]
LANGUAGES: tuple[Language, ...] = ("en", "sw")
#: Characters per line in the printer's default font: 42 on 80 mm paper, 32 on 58 mm, 48 on some 80 mm models.
WIDTHS = (32, 42, 48)
DEFAULT_WIDTH = 42
#: Seven digits in a row would be most of a phone number: receipts carry masked numbers only.
_UNMASKED = re.compile(r"\d{7}")


class Tender(StrEnum):
    MPESA = "M-Pesa"
    CASH = "Cash"


@dataclass(frozen=True)
class Labels:
    sale: str
    date: str
    description: str
    total: str
    paid_by: str
    cash: str
    receipt_code: str
    receipt_pending: str
    phone: str
    thanks: str
    copy: str
    demo: str


LABELS: dict[Language, Labels] = {
    "en": Labels(
        sale="Sale no.",
        date="Date",
        description="Item",
        total="TOTAL",
        paid_by="Paid by",
        cash="Cash",
        receipt_code="M-Pesa receipt",
        receipt_pending="not yet received",
        phone="Phone",
        thanks="Thank you",
        copy="COPY",
        demo="DEMO - NOT A REAL PAYMENT",
    ),
    "sw": Labels(
        sale="Mauzo Na.",
        date="Tarehe",
        description="Maelezo",
        total="JUMLA",
        paid_by="Njia ya malipo",
        cash="Pesa taslimu",
        receipt_code="Risiti ya M-Pesa",
        receipt_pending="bado haijapokelewa",
        phone="Simu",
        thanks="Asante",
        copy="NAKALA",
        demo="MAJARIBIO - SI MALIPO HALISI",
    ),
}


@dataclass(frozen=True)
class Receipt:
    """One paid sale as the customer's receipt.

    `paid_at` is aware (stored in UTC) and printed in Nairobi time. `receipt_code` is None for cash, or
    for M-Pesa confirmed by STK Query before the callback brought the code (docs/daraja.md §3).
    `phone_masked` is already masked (`0708 *** 149`). `reprint` marks a copy printed again from
    history; `demo` marks a sale paid through the simulator, which moved no money.
    """

    shop_name: str
    sale_id: str
    description: str
    amount_kes: int
    tender: Tender
    paid_at: datetime
    receipt_code: str | None = None
    phone_masked: str | None = None
    reprint: bool = False
    demo: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.amount_kes, bool) or not isinstance(self.amount_kes, int) or self.amount_kes < 1:
            raise ValueError("A receipt's amount is a whole number of shillings, at least KES 1.")
        if not isinstance(self.tender, Tender):
            raise ValueError(f"A receipt's tender is one of {', '.join(Tender)}.")
        if self.paid_at.tzinfo is None or self.paid_at.utcoffset() is None:
            raise ValueError("A receipt's paid time must be timezone-aware.")
        if self.phone_masked is not None and _UNMASKED.search(self.phone_masked.replace(" ", "")):
            raise ValueError("A receipt carries a masked phone number only (e.g. 0708 *** 149).")


def kes(amount_kes: int) -> str:
    return f"KES {amount_kes:,}"


def _line(left: str, right: str, width: int) -> str:
    """`left` and `right` on one line, or `right` alone right-aligned under `left` when they do not fit."""
    gap = width - len(left) - len(right)
    if gap >= 1:
        return left + " " * gap + right
    return left + "\n" + right.rjust(width)


def check_layout(language: str, width: int) -> None:
    """Raise ValueError unless the language and line width are ones a receipt can be printed in."""
    if language not in LANGUAGES:
        raise ValueError(f"Receipt language is 'en' or 'sw', not {language!r}.")
    if width not in WIDTHS:
        raise ValueError(f"Receipt width is one of {', '.join(map(str, WIDTHS))} characters, not {width}.")


def write_receipt(
    printer: Any, receipt: Receipt, language: Language = "en", width: int = DEFAULT_WIDTH
) -> None:
    """Send the receipt's ESC/POS commands to a python-escpos printer (any driver, or `Dummy`).

    `printer` is typed Any because python-escpos ships no type information.
    """
    check_layout(language, width)
    labels = LABELS[language]
    rule = "-" * width
    printer.hw("INIT")
    printer.set(align="center", bold=True, double_height=True)
    for part in textwrap.wrap(receipt.shop_name, width) or [""]:
        printer.textln(part)
    printer.set_with_default(align="center")
    if receipt.reprint:
        printer.textln(f"*** {labels.copy} ***")
    if receipt.demo:
        printer.textln(labels.demo)
    printer.set_with_default()
    printer.textln(rule)
    printer.textln(_line(labels.sale, receipt.sale_id, width))
    paid_at = receipt.paid_at.astimezone(NAIROBI).strftime("%d/%m/%Y %H:%M EAT")
    printer.textln(_line(labels.date, paid_at, width))
    if receipt.description.strip():
        printer.textln(f"{labels.description}:")
        for part in textwrap.wrap(receipt.description.strip(), width):
            printer.textln(part)
    printer.textln(rule)
    printer.set_with_default(bold=True, double_height=True)
    printer.textln(_line(labels.total, kes(receipt.amount_kes), width))
    printer.set_with_default()
    tender = labels.cash if receipt.tender is Tender.CASH else str(Tender.MPESA)
    printer.textln(_line(labels.paid_by, tender, width))
    if receipt.tender is Tender.MPESA:
        printer.set_with_default(bold=True)
        printer.textln(_line(labels.receipt_code, receipt.receipt_code or labels.receipt_pending, width))
        printer.set_with_default()
    if receipt.phone_masked:
        printer.textln(_line(labels.phone, receipt.phone_masked, width))
    printer.textln(rule)
    printer.set_with_default(align="center")
    if receipt.demo:
        printer.textln(labels.demo)
    printer.textln(labels.thanks)
    printer.set_with_default()
    printer.cut()


def render_receipt(receipt: Receipt, language: Language = "en", width: int = DEFAULT_WIDTH) -> bytes:
    """The receipt as the ESC/POS bytes a printer would get."""
    dummy = Dummy(profile="default")
    write_receipt(dummy, receipt, language, width)
    output: bytes = dummy.output
    return output
