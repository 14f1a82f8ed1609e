"""A cashier takes payments from the keyboard against the real engine, simulator and relay."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.ui.harness import focused

pytestmark = pytest.mark.gui


def test_paid_sale_from_amount_to_receipt_with_the_keyboard_only(till):
    window = till.window
    assert focused() == window.sale.amount_input
    till.type_sale("10", "0708374149")
    assert window.sale.phone_input.text() == "0708 374 149"
    till.press(Qt.Key.Key_Tab)
    assert focused() == window.sale.charge_button
    till.press(Qt.Key.Key_Return)

    till.wait_for_status("Paid", "Receipt ")
    # Paid by the callback, or by STK Query first and the receipt a moment later: either way it shows.
    till.qtbot.waitUntil(lambda: till.current().receipt is not None, timeout=10_000)
    view = till.current()
    assert view.state == "paid"
    assert view.receipt and view.receipt in till.status_text()
    detail = window.sale.status_panel.detail_label.text()
    assert "KES 10" in detail and "0708 *** 149" in detail
    assert len(till.pushes()) == 1

    # Enter after a result starts a new sale, focus back in the amount.
    till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus())
    assert window.sale.amount_input.text() == ""
    assert till.status_text().startswith("Ready")


FAILURES = [
    # phone, words the cashier reads, the recommended next step shown first
    ("0711000001", "The customer cancelled the prompt.", "step_retry"),
    ("0711000002", "The customer does not have enough money on M-Pesa.", "step_take_cash"),
    ("0711000003", "The customer entered a wrong M-Pesa PIN.", "step_retry"),
    ("0711000004", "The customer's phone could not be reached or did not answer.", "step_retry"),
    ("0711000010", "The prompt expired before the customer answered.", "step_retry"),
    ("0711000011", "M-Pesa blocked a repeat of the same amount within 2 minutes.", "step_verify"),
    ("0711000007", "M-Pesa did not send the prompt, so nothing was charged.", "step_retry"),
]


@pytest.mark.parametrize(("phone", "reason", "first_step"), FAILURES, ids=[f[0] for f in FAILURES])
def test_each_failure_shows_its_reason_and_the_safe_next_step(till, phone, reason, first_step):
    till.charge("20", phone)
    text = till.wait_for_status("Not paid", reason)
    assert text.startswith("Not paid\n")
    steps = till.window.sale.status_panel.visible_actions()
    assert f"step_{steps[0].value}" == first_step
    assert steps[-1].value == "new_sale"
    # New sale holds the focus: Enter moves on, the steps are a Shift+Tab or Alt+letter away.
    assert focused() == till.window.sale.status_panel.buttons[steps[-1]]


def test_retry_after_a_cancelled_prompt_sends_one_new_prompt_for_the_same_sale(till):
    till.charge("30", "0711000001")
    till.wait_for_status("cancelled")
    first = till.current()
    till.press(Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(
        lambda: till.window.current is not None and till.current().attempt_id != first.attempt_id
    )
    till.wait_for_status("cancelled")
    assert till.current().sale_id == first.sale_id
    assert len(till.pushes()) == 2


def test_try_another_number_keeps_the_amount_and_puts_the_cursor_in_an_empty_phone(till):
    window = till.window
    till.charge("45", "0711000002")
    till.wait_for_status("enough money")
    till.press(Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: window.sale.phone_input.hasFocus())
    assert window.sale.amount_input.text() == "45"
    assert window.sale.phone_input.text() == ""
    till.qtbot.keyClicks(window.sale.phone_input, "0708374149")
    till.press(Qt.Key.Key_Return)
    till.wait_for_status("Paid", "Receipt ")
    assert till.current().amount_kes == 45


def test_callback_never_sent_settles_through_stk_query(till):
    till.charge("60", "0711000005")
    till.wait_for_status("Paid", timeout_s=15)
    view = till.current()
    assert view.method == "stk_query"
    assert len(till.queries()) >= 1
    assert len(till.pushes()) == 1


def test_unknown_becomes_paid_when_the_late_result_arrives(till_factory):
    # The customer answers after the till stopped waiting: the screen says Unknown, then Paid.
    till = till_factory(simulator={"callback_delay_s": 3.5}, wait_deadline_s=1.5, relay_silence_s=0.5)
    till.charge("70", "0708374149")
    text = till.wait_for_status("Unknown", timeout_s=10)
    assert "Check the customer's SMS before charging again." in text
    steps = [a.value for a in till.window.sale.status_panel.visible_actions()]
    assert steps[:2] == ["verify", "no_sms_charge_again"]
    till.wait_for_status("Paid", timeout_s=15)
    assert till.current().state == "paid"
    assert len(till.pushes()) == 1


def test_double_enter_on_charge_sends_one_prompt(till):
    till.type_sale("80", "0708374149")
    till.press(Qt.Key.Key_Tab)
    assert focused() == till.window.sale.charge_button
    till.press(Qt.Key.Key_Return)
    till.press(Qt.Key.Key_Return)
    till.press(Qt.Key.Key_Enter)
    till.wait_for_status("Paid", "Receipt ")
    till.qtbot.wait(300)  # room for a stray second push to show up in the simulator's log
    assert len(till.pushes()) == 1


def test_escape_stops_watching_and_the_late_result_is_announced(till_factory):
    till = till_factory(simulator={"callback_delay_s": 1.5})
    window = till.window
    till.charge("90", "0708374149")
    till.wait_for_status("Waiting for the customer's PIN")
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus())
    assert "still waiting" in window.sale.form_message.text().lower()
    assert till.status_text().startswith("Ready")
    till.qtbot.waitUntil(lambda: "is now Paid" in window.status_bar.currentMessage(), timeout=10_000)
    assert "KES 90" in window.status_bar.currentMessage()


def test_a_wrong_phone_is_explained_and_nothing_is_sent(till):
    till.charge("10", "0508374149")
    till.qtbot.waitUntil(lambda: "07 or 01" in till.window.sale.form_message.text())
    assert focused() == till.window.sale.phone_input
    assert till.pushes() == []


AUTOMATION_NAMES = (
    "amountInput",
    "phoneInput",
    "chargeButton",
    "paymentStatus",
    "manualReceiptButton",
    "historyTable",
    "reportButton",
    "settingsButton",
)


@pytest.mark.parametrize("name", AUTOMATION_NAMES)
def test_automation_names_are_both_object_and_accessible_names(till, name):
    widget = till.find(name)
    assert widget.accessibleName() == name


def test_no_sms_charge_again_after_an_unknown_sends_a_second_prompt_on_the_customers_word(till_factory):
    till = till_factory(simulator={"callback_delay_s": 30.0}, wait_deadline_s=1.5, relay_silence_s=0.5)
    till.charge("65", "0708374149")
    till.wait_for_status("Unknown", timeout_s=10)
    first = till.current()
    till.press(Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: till.current().attempt_id != first.attempt_id, timeout=10_000)
    assert till.current().sale_id == first.sale_id
    assert len(till.pushes()) == 2
    trail = till.run(till.service.audit_trail(till.current().attempt_id))
    assert any("no_sms" in str(entry) or "confirm" in str(entry) for entry in trail), trail


def test_status_bar_shows_the_relay_and_the_last_callback(till):
    bar = till.window.status_bar
    till.charge("12", "0708374149")
    till.wait_for_status("Paid")
    till.qtbot.waitUntil(lambda: bar.callback_label.text() == "Last callback just now", timeout=10_000)
    assert bar.relay_label.text() == "Relay connected"
    assert bar.mode_label.text() == "Mode: remote"


def test_diagnostics_screen_gives_one_sentence_and_a_fix_per_finding(till):
    till.press(Qt.Key.Key_F5)
    findings = till.window.diagnostics.findings
    till.qtbot.waitUntil(lambda: len(findings.lines()) > 1, timeout=15_000)
    problems = [line for line in findings.lines() if line.startswith(("error:", "warning:"))]
    assert problems and all(" Fix: " in line for line in problems), findings.lines()
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: till.window.sale.amount_input.hasFocus())


def test_relay_down_raises_the_alert_banner_and_the_sale_still_settles_by_query(till):
    window = till.window
    assert not window.banner.isVisible()
    till.run(till.relay.stop())
    till.charge("85", "0708374149")
    till.qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=10_000)
    assert "relay is not reachable" in window.banner.text()
    assert window.banner.property("kind") == "alert"
    assert window.status_bar.relay_label.text() == "Relay NOT reachable"
    till.wait_for_status("Paid", timeout_s=15)
    assert till.current().method == "stk_query"
