"""After any result the next sale is one key away (Esc, Enter or the next amount), and no key sequence
leaves the cashier unable to charge: not a paid sale, a failure, a manual receipt, a refusal or a bug."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from pos_app.ui.manual_receipt_dialog import ManualReceiptDialog
from tests.ui.harness import OWNER_PIN, Till, focused

pytestmark = pytest.mark.gui


def next_sale_goes_out(till: Till, amount_kes: int, previous_sale_id: str) -> None:
    """The cashier finishes the next sale in a clean form (typing the amount unless it is already there)
    and Enter sends one new prompt, for a new sale."""
    window = till.window
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus())
    assert window.sale.phone_input.text() == ""
    pushes = len(till.pushes())
    if window.sale.amount_input.text() == "":
        till.charge(str(amount_kes), "0708374149")
    else:
        assert window.sale.amount_input.amount_kes() == amount_kes
        till.press(Qt.Key.Key_Tab)
        till.qtbot.keyClicks(focused(), "0708374149")
        till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(
        lambda: window.current is not None and window.current.sale_id != previous_sale_id, timeout=10_000
    )
    assert till.current().amount_kes == amount_kes
    assert len(till.pushes()) == pushes + 1
    assert not window.sale.form_message.text().startswith("Not sent")


def test_escape_after_a_paid_sale_starts_a_new_sale(till):
    till.charge("10", "0708374149")
    till.wait_for_status("Paid", "Receipt ")
    paid = till.current()
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: till.window.sale.amount_input.hasFocus())
    assert till.window.sale.amount_input.text() == ""
    assert till.window.sale.phone_input.text() == ""
    assert till.status_text().startswith("Ready")
    next_sale_goes_out(till, 20, paid.sale_id)
    till.wait_for_status("Paid")


@pytest.mark.parametrize("key", [Qt.Key.Key_Escape, Qt.Key.Key_Return], ids=["Esc", "Enter"])
def test_escape_or_enter_after_a_failure_starts_a_new_sale(till, key):
    till.charge("30", "0711000001")
    till.wait_for_status("cancelled")
    failed = till.current()
    till.press(key)
    till.qtbot.waitUntil(lambda: till.status_text().startswith("Ready"))
    next_sale_goes_out(till, 31, failed.sale_id)


def test_typing_the_next_amount_after_a_result_starts_the_next_sale_with_it(till):
    window = till.window
    till.charge("10", "0708374149")
    till.wait_for_status("Paid", "Receipt ")
    paid = till.current()
    assert focused() == window.sale.status_panel.buttons[window.sale.status_panel.visible_actions()[-1]]
    till.qtbot.keyClicks(focused(), "r")  # a letter (Retry without its Alt) keeps the result on screen
    assert till.status_text().startswith("Paid")
    for key in "250":  # each key to whatever has the focus then, as a keyboard sends it
        till.qtbot.keyClicks(focused(), key)
    assert window.sale.amount_input.text() == "250"
    assert focused() == window.sale.amount_input
    assert till.status_text().startswith("Ready")
    next_sale_goes_out(till, 250, paid.sale_id)


def test_pasting_the_next_amount_after_a_result_starts_the_next_sale_with_it(till):
    window = till.window
    till.charge("30", "0711000001")
    till.wait_for_status("cancelled")
    failed = till.current()
    QApplication.clipboard().setText("KES 1,250")
    till.press(Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    till.qtbot.waitUntil(lambda: window.sale.amount_input.text() == "KES 1,250")
    assert focused() == window.sale.amount_input
    next_sale_goes_out(till, 1250, failed.sale_id)


def test_after_verifying_by_receipt_the_next_sale_still_charges(till_factory):
    till = till_factory(simulator={"callback_delay_s": 30.0}, wait_deadline_s=1.5, relay_silence_s=0.5)
    window = till.window
    till.charge("65", "0708374149")
    till.wait_for_status("Unknown", timeout_s=10)
    unknown = till.current()
    till.press(Qt.Key.Key_V, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: bool(window.open_dialogs()), timeout=5000)
    dialog = window.open_dialogs()[0]
    assert isinstance(dialog, ManualReceiptDialog)
    till.qtbot.waitUntil(lambda: dialog.receipt_input.hasFocus(), timeout=3000)
    till.qtbot.keyClicks(dialog.receipt_input, "QWE1234567")
    till.qtbot.keyClick(dialog.receipt_input, Qt.Key.Key_Tab)
    till.qtbot.keyClicks(dialog.pin_input, OWNER_PIN)
    till.qtbot.keyClick(dialog.pin_input, Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: "NOT verified" in dialog.result_label.text(), timeout=5000)
    till.qtbot.keyClick(dialog.pin_input, Qt.Key.Key_Return)  # Enter now closes the dialog
    till.qtbot.waitUntil(lambda: not window.open_dialogs())
    till.wait_for_status("To check", "Receipt QWE1234567")
    till.press(Qt.Key.Key_Escape)
    next_sale_goes_out(till, 15, unknown.sale_id)


def test_a_sale_paid_by_hand_while_its_form_is_open_shows_paid_and_enter_moves_on(till):
    window = till.window
    till.charge("45", "0711000002")
    till.wait_for_status("enough money")
    failed = till.current()
    till.press(Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)  # Try another number: the same sale's form
    till.qtbot.waitUntil(lambda: window.sale.phone_input.hasFocus())
    # Meanwhile the customer shows an M-Pesa SMS and the owner enters its receipt.
    till.press(Qt.Key.Key_F4)
    till.qtbot.waitUntil(lambda: bool(window.open_dialogs()), timeout=5000)
    dialog = window.open_dialogs()[0]
    assert isinstance(dialog, ManualReceiptDialog)
    till.qtbot.waitUntil(lambda: dialog.receipt_input.hasFocus(), timeout=3000)
    till.qtbot.keyClicks(dialog.receipt_input, "QAZ2WSX3ED")
    till.qtbot.keyClick(dialog.receipt_input, Qt.Key.Key_Tab)
    till.qtbot.keyClicks(dialog.pin_input, OWNER_PIN)
    till.qtbot.keyClick(dialog.pin_input, Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: "NOT verified" in dialog.result_label.text(), timeout=5000)
    till.qtbot.keyClick(dialog.pin_input, Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: not window.open_dialogs())
    till.wait_for_status("To check", "Receipt QAZ2WSX3ED")
    till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: till.status_text().startswith("Ready"))
    next_sale_goes_out(till, 46, failed.sale_id)


def test_a_refused_charge_says_why_sends_nothing_and_escape_gets_out(till):
    window = till.window
    # The owner lowered the limit to KES 50 from elsewhere (another window, the command line): the form
    # still allows 100 and the engine refuses it.
    stored = till.run(till.service.load_settings())
    till.run(till.service.save_settings(dataclasses.replace(stored, max_amount_kes=50)))
    till.charge("100", "0708374149")
    till.qtbot.waitUntil(lambda: window.sale.form_message.text().startswith("Not sent: "), timeout=5000)
    assert "KES 50" in window.sale.form_message.text()
    assert window.sale.charge_button.isEnabled()
    assert not window.sale.amount_input.isReadOnly()
    assert focused() == window.sale.amount_input
    assert till.pushes() == []
    # Esc clears the refused sale; the next one goes out.
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: window.sale.amount_input.text() == "")
    assert window.sale.form_message.text() == ""
    till.charge("40", "0708374149")
    till.wait_for_status("Paid", "Receipt ")


def test_an_unexpected_error_during_a_charge_gives_the_form_back_with_one_sentence(till, caplog):
    window = till.window
    # A real failure under the engine: the till's database refuses to store a new sale.
    with sqlite3.connect(till.service.store.path) as database:
        database.execute(
            "CREATE TRIGGER broken_disk BEFORE INSERT ON sales BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    with caplog.at_level(logging.ERROR):
        till.charge("70", "0708374149")
        till.qtbot.waitUntil(lambda: "unexpected error" in window.sale.form_message.text(), timeout=5000)
    message = window.sale.form_message.text()
    assert message.count(".") == 1 and "disk says no" not in message
    assert "disk says no" in caplog.text
    assert not window.sale.amount_input.isReadOnly()
    assert window.sale.charge_button.isEnabled()
    assert focused() == window.sale.amount_input
    assert till.status_text().startswith("Ready")
    # The form is the cashier's again: once the disk is back, Enter charges.
    with sqlite3.connect(till.service.store.path) as database:
        database.execute("DROP TRIGGER broken_disk")
    till.press(Qt.Key.Key_Return)
    till.wait_for_status("Paid", "Receipt ")


def test_the_hint_says_what_the_keys_do_in_each_mode(till_factory):
    till = till_factory(simulator={"callback_delay_s": 1.0})
    hint = till.window.sale.hint_label
    entry = hint.text()
    assert "Enter" in entry and "Esc" in entry
    till.charge("10", "0708374149")
    till.wait_for_status("Waiting for the customer's PIN")
    waiting = hint.text()
    assert "stop watching" in waiting
    till.wait_for_status("Paid")
    result = hint.text()
    assert "new sale" in result.lower()
    assert len({entry, waiting, result}) == 3
