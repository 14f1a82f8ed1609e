"""What a receipt says, as the ESC/POS bytes a printer gets (python-escpos's own command encoder)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pos_app.printing import LABELS, Receipt, Tender, render_receipt

INIT = b"\x1b@"  # ESC @
CUT = b"\x1dV"  # GS V

PAID = Receipt(
    shop_name="Mama Njeri General Store",
    sale_id="S-0042",
    description="Sukari 2kg, unga wa ngano",
    amount_kes=1250,
    tender=Tender.MPESA,
    paid_at=datetime(2026, 12, 2, 11, 5, tzinfo=UTC),
    receipt_code="UL2ABC1234",
    phone_masked="0708 *** 149",
)


_COMMAND = re.compile(rb"\x1b@|[\x1b\x1d].{2}", re.DOTALL)  # ESC @, then the 3-byte ESC/GS commands used


def text_of(data: bytes) -> str:
    """What the paper shows: the bytes without their printer commands."""
    return _COMMAND.sub(b"", data).decode("cp437")


def test_a_paid_m_pesa_sale_prints_shop_amount_tender_code_nairobi_time_description_masked_phone() -> None:
    data = render_receipt(PAID)
    assert data.startswith(INIT)
    assert data.endswith(CUT + b"\x00")  # GS V 0: full cut, after the feed
    text = text_of(data)
    for words in (
        "Mama Njeri General Store",
        "S-0042",
        "KES 1,250",
        "M-Pesa",
        "UL2ABC1234",
        "02/12/2026 14:05 EAT",  # 11:05 UTC is 14:05 in Nairobi
        "Sukari 2kg, unga wa ngano",
        "0708 *** 149",
        "Thank you",
    ):
        assert words in text


def test_the_kiswahili_receipt_has_kiswahili_labels_and_the_same_facts() -> None:
    text = text_of(render_receipt(PAID, "sw"))
    sw = LABELS["sw"]
    for words in (sw.total, sw.paid_by, sw.receipt_code, sw.phone, sw.thanks, "KES 1,250", "UL2ABC1234"):
        assert words in text
    assert LABELS["en"].thanks not in text


def test_a_time_in_any_zone_is_printed_in_nairobi_time() -> None:
    in_london_winter = datetime(2026, 12, 2, 11, 5, tzinfo=timezone(timedelta(hours=0)))
    in_new_york = datetime(2026, 12, 2, 6, 5, tzinfo=timezone(timedelta(hours=-5)))
    for moment in (in_london_winter, in_new_york):
        assert "02/12/2026 14:05 EAT" in text_of(render_receipt(replace(PAID, paid_at=moment)))


def test_a_cash_sale_has_no_m_pesa_line_and_names_cash_in_the_chosen_language() -> None:
    cash = replace(PAID, tender=Tender.CASH, receipt_code=None, phone_masked=None)
    english, swahili = text_of(render_receipt(cash)), text_of(render_receipt(cash, "sw"))
    assert "Cash" in english and "Pesa taslimu" in swahili
    assert "M-Pesa" not in english and "Phone" not in english


def test_an_m_pesa_sale_settled_by_query_says_the_code_has_not_arrived_yet() -> None:
    text = text_of(render_receipt(replace(PAID, receipt_code=None)))
    assert "M-Pesa receipt" in text and "not yet received" in text


def test_a_reprint_is_marked_as_a_copy_and_a_demo_sale_as_no_real_payment() -> None:
    assert "*** COPY ***" in text_of(render_receipt(replace(PAID, reprint=True)))
    assert "*** NAKALA ***" in text_of(render_receipt(replace(PAID, reprint=True), "sw"))
    assert "COPY" not in text_of(render_receipt(PAID))
    assert text_of(render_receipt(replace(PAID, demo=True))).count("DEMO - NOT A REAL PAYMENT") == 2


@pytest.mark.parametrize("width", [32, 42, 48])
def test_no_printed_line_is_wider_than_the_paper(width: int) -> None:
    long = replace(PAID, shop_name="Mama Njeri General Store and Wholesale Kariobangi", description="x " * 60)
    text = text_of(render_receipt(long, "sw", width))
    assert max(len(line) for line in text.split("\n")) == width  # the rules span the paper exactly


def test_characters_the_printer_cannot_print_become_question_marks_not_an_error() -> None:
    text = text_of(render_receipt(replace(PAID, description="Chai ☕ na mandazi")))
    assert "Chai ? na mandazi" in text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"amount_kes": 0}, "at least KES 1"),
        ({"amount_kes": True}, "whole number"),
        ({"amount_kes": 12.5}, "whole number"),
        ({"tender": "Card"}, "tender"),
        ({"paid_at": datetime(2026, 12, 2, 11, 5)}, "timezone-aware"),  # noqa: DTZ001 - the point of the test
        ({"phone_masked": "0708 374 149"}, "masked"),
    ],
)
def test_a_receipt_refuses_what_it_must_never_print(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        replace(PAID, **change)


@pytest.mark.parametrize(("language", "width"), [("fr", 42), ("en", 40)])
def test_an_unknown_language_or_width_is_refused(language: Any, width: int) -> None:
    with pytest.raises(ValueError, match=r"language|width"):
        render_receipt(PAID, language, width)


def test_importing_printing_leaves_the_tills_logging_alone_and_no_folder_behind() -> None:
    # python-escpos calls logging.basicConfig() and makes a temporary folder when imported (_escpos.py).
    script = (
        "import logging, os, pos_app.printing\n"
        "print(len(logging.getLogger().handlers))\n"
        "print(os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ESCPOS_CAPABILITIES_PICKLE_DIR"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True, timeout=60
    )
    handlers, pickle_dir = done.stdout.split()
    assert handlers == "0"
    assert Path(pickle_dir).name.startswith("mpesa-till-escpos-")
    assert not Path(pickle_dir).exists()
