"""Amounts read as a person writes them, and refused with the reason when they are not whole shillings."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pos_app.money import AmountRefused, parse_amount

LIMIT = 250_000


@pytest.mark.parametrize(
    "typed",
    [
        "1250",
        "1,250",
        "1 250",
        "KES 1,250.00",
        "Ksh1250",
        "ksh. 1,250",
        "KES1250.0",
        " 1250 ",
        "1,250/=",
        "Kshs 1250/-",
    ],
)
def test_ways_of_writing_twelve_fifty_read_as_1250(typed: str) -> None:
    assert parse_amount(typed, LIMIT) == 1250


@pytest.mark.parametrize(
    ("typed", "reason_en", "reason_sw"),
    [
        ("12.50", "whole shillings only", "shilingi kamili"),
        ("1.5", "whole shillings only", "shilingi kamili"),
        ("0", "at least KES 1", "angalau KES 1"),
        ("-5", "at least KES 1", "angalau KES 1"),
        ("\u22125", "at least KES 1", "angalau KES 1"),
        ("", "Enter the amount", "Weka kiasi"),
        ("   ", "Enter the amount", "Weka kiasi"),
        ("250001", "at most KES 250,000", "hadi KES 250,000"),
        ("12a", "in figures", "kwa tarakimu"),
        ("1,25", "in figures", "kwa tarakimu"),
        ("12,50", "in figures", "kwa tarakimu"),
        ("1,250 000", "in figures", "kwa tarakimu"),
        ("1.250", "in figures", "kwa tarakimu"),
        ("USD 5", "in figures", "kwa tarakimu"),
        ("1e3", "in figures", "kwa tarakimu"),
        ("\u0661\u0662", "in figures", "kwa tarakimu"),  # Arabic-Indic digits: not what the cashier sees
    ],
)
def test_what_is_not_a_whole_shilling_amount_is_refused_with_the_reason_in_both_languages(
    typed: str, reason_en: str, reason_sw: str
) -> None:
    with pytest.raises(AmountRefused) as refused:
        parse_amount(typed, LIMIT)
    assert reason_en in refused.value.reason("en")
    assert reason_sw in refused.value.reason("sw")
    assert str(refused.value) == refused.value.reason("en")
    assert isinstance(refused.value, ValueError)


def test_the_limit_is_the_one_given() -> None:
    assert parse_amount("70,000", 70_000) == 70_000
    with pytest.raises(AmountRefused, match="at most KES 70,000"):
        parse_amount("70,001", 70_000)


AMOUNT_LIKE = st.text(alphabet="0123456789 ,.-+KESkshs/=\u2212\u00a0", max_size=14)


@given(st.one_of(AMOUNT_LIKE, st.text(max_size=14)))
@example("12.50")
@example("-5")
@example("1.5")
@example("2 500")
@example("Ksh.5")
@example("Ksh. 1,250.00/=")
def test_never_returns_a_number_whose_digits_the_cashier_did_not_type(text: str) -> None:
    try:
        amount_kes = parse_amount(text, LIMIT)
    except AmountRefused:
        return
    assert 1 <= amount_kes <= LIMIT
    # Every digit typed, in order, is the amount's, save at most two zeros of cents after a point.
    typed = re.sub(r"[^0-9]", "", text).lstrip("0")
    cents = typed.removeprefix(str(amount_kes))
    assert typed.startswith(str(amount_kes))
    assert cents == "" or ("." in text and len(cents) <= 2 and set(cents) == {"0"})
    assert not re.search(r"[-\u2212]\s*[0-9]", text)  # no minus sign was dropped


@given(st.integers(min_value=1, max_value=LIMIT))
def test_every_whole_amount_reads_back_written_plain_grouped_or_with_the_currency(amount_kes: int) -> None:
    for written in (
        str(amount_kes),
        f"{amount_kes:,}",
        f"{amount_kes:,}".replace(",", " "),
        f"KES {amount_kes:,}.00",
    ):
        assert parse_amount(written, LIMIT) == amount_kes
