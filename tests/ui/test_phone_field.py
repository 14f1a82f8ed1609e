"""The phone field formats as the cashier types and says, in words, what is wrong."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from pos_app.ui.inputs import AmountInput, PhoneInput, group_phone, phone_problem
from pos_app.ui.strings import phone_problem_text

pytestmark = pytest.mark.gui


@pytest.fixture
def phone(qtbot) -> PhoneInput:
    field = PhoneInput()
    qtbot.addWidget(field)
    field.show()
    return field


def test_typing_a_local_number_groups_it_as_kenyans_read_it(qtbot, phone):
    qtbot.keyClicks(phone, "0708374149")
    assert phone.text() == "0708 374 149"
    assert phone.msisdn() == "254708374149"
    assert phone.problem() is None


def test_typing_an_international_number_keeps_the_plus_and_groups_it(qtbot, phone):
    qtbot.keyClicks(phone, "+254110156957")
    assert phone.text() == "+254 110 156 957"
    assert phone.msisdn() == "254110156957"


def test_a_half_typed_number_is_incomplete_not_an_error(qtbot, phone):
    reports: list[tuple[str, bool]] = []
    phone.problem_changed.connect(lambda message, is_error: reports.append((message, is_error)))
    qtbot.keyClicks(phone, "07083")
    assert all(is_error is False for _message, is_error in reports)
    message, is_error = reports[-1]
    assert "missing" in message
    assert is_error is False
    assert phone.msisdn() is None


def test_a_number_that_cannot_be_a_kenyan_mobile_says_why(qtbot, phone):
    reports: list[tuple[str, bool]] = []
    phone.problem_changed.connect(lambda message, is_error: reports.append((message, is_error)))
    qtbot.keyClicks(phone, "0508374149")
    message, is_error = reports[-1]
    assert is_error is True
    assert "07 or 01" in message
    assert phone.property("invalid") is True


def test_too_many_digits_is_an_error_that_counts_them(qtbot, phone):
    phone.setText("07083741491")
    message, incomplete = phone_problem(phone.text())
    assert message is not None and "too long" in message
    assert incomplete is False


def test_letters_cannot_be_typed_into_the_phone(qtbot, phone):
    qtbot.keyClicks(phone, "07a08")
    assert phone.text() == "0708"


def test_editing_in_the_middle_keeps_the_cursor_after_the_typed_digit(qtbot, phone):
    qtbot.keyClicks(phone, "070837414")
    phone.setCursorPosition(2)  # after "07"
    qtbot.keyClicks(phone, "0")
    assert phone.text() == "0700 837 414"
    assert phone.cursorPosition() == 3


@pytest.mark.parametrize(
    ("typed", "shown"),
    [("254708374149", "254 708 374 149"), ("0110", "0110"), ("708374149", "708 374 149"), ("", "")],
)
def test_grouping_rules(typed, shown):
    assert group_phone(typed) == shown


@pytest.mark.parametrize("typed", ["12.50", "1.5", "-5", "0"])
def test_the_amount_never_turns_what_was_typed_into_another_number(qtbot, typed):
    amount = AmountInput()
    qtbot.addWidget(amount)
    qtbot.keyClicks(amount, typed)
    assert amount.text() == typed
    assert amount.amount_kes() is None
    assert amount.problem("en")


@pytest.mark.parametrize("pasted", ["2 500", "KES 2,500.00", "Ksh2500", "2,500"])
def test_a_pasted_amount_as_people_write_it_is_read(qtbot, pasted):
    amount = AmountInput()
    qtbot.addWidget(amount)
    QApplication.clipboard().setText(pasted)
    qtbot.keyClick(amount, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert amount.text() == pasted
    assert amount.amount_kes() == 2500
    assert amount.problem("en") is None


def test_amount_problems_are_sentences_in_the_chosen_language(qtbot):
    amount = AmountInput()
    qtbot.addWidget(amount)
    assert amount.problem("en") == "Enter the amount in whole shillings."
    qtbot.keyClicks(amount, "0")
    assert "at least KES 1" in (amount.problem("en") or "")
    amount.clear()
    qtbot.keyClicks(amount, "300000")
    assert "250,000" in (amount.problem("sw") or "")
    assert (amount.problem("sw") or "").startswith("M-Pesa inapokea")
    qtbot.keyClick(amount, Qt.Key.Key_Backspace)
    assert amount.amount_kes() == 30000


@pytest.mark.parametrize(
    ("typed", "swahili"),
    [
        ("0508374149", "Hii si namba ya simu ya mkononi: lazima ianze na 07 au 01."),
        ("07083741491", "Namba ni ndefu: tarakimu 1 zimezidi."),
        ("0708", "Namba ni fupi: tarakimu 6 zimepungua."),
    ],
)
def test_phone_problems_read_in_swahili_too(typed, swahili):
    message, _incomplete = phone_problem(typed)
    assert message is not None
    assert phone_problem_text(message, "sw") == swahili
    assert phone_problem_text(message, "en") == message
