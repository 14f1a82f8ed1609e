"""F8 takes cash for the open sale at any moment, and the till records it (issue 9, defect 3): before
charging (the amount typed, no phone), after a failed or unknown result; refused on a paid sale with the
reason; the same key and one plain sentence in English and Kiswahili; History and the Day report show it.
Driven by the keyboard against the real engine, simulator and relay."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from pos_app.ui.presentation import Action
from tests.ui.harness import Till, focused

pytestmark = pytest.mark.gui


def attempts_of(till: Till, sale_id: str) -> list[tuple[str, str]]:
    return [(a.state, a.method) for a in till.run(till.service.store.attempts_for_sale(sale_id))]


def test_f8_before_charging_takes_cash_for_the_amount_typed_without_a_phone(till: Till) -> None:
    window = till.window
    till.qtbot.keyClicks(window.sale.amount_input, "1,250")
    assert window.sale.status_panel.buttons[Action.TAKE_CASH].text().replace("\n", " ") == "Take cash (F8)"
    till.press(Qt.Key.Key_F8)
    text = till.wait_for_status("Paid", "Cash KES 1,250 taken. Sale paid.")
    assert "KES 1,250" in window.sale.status_panel.detail_label.text()
    view = till.current()
    assert (view.state, view.method, view.amount_kes, view.phone) == ("paid", "cash", 1250, "")
    assert attempts_of(till, view.sale_id) == [("paid", "cash")]
    assert till.pushes() == [] and "*" not in text
    # As after any result, Enter starts a new sale.
    till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus())
    assert window.sale.amount_input.text() == "" and window.current is None
    # History: Paid, tender Cash.
    till.press(Qt.Key.Key_F2)
    till.qtbot.waitUntil(lambda: view.attempt_id in [v.attempt_id for v in window.history.model.views()])
    row = [v.attempt_id for v in window.history.model.views()].index(view.attempt_id)
    assert window.history.model.index(row, 3).data() == "Paid"
    assert window.history.model.index(row, 5).data() == "Cash"


def test_f8_with_no_amount_says_what_is_missing_and_stores_nothing(till: Till) -> None:
    till.press(Qt.Key.Key_F8)
    till.qtbot.waitUntil(lambda: till.window.sale.form_message.text() != "")
    assert till.window.sale.form_message.text() == "Enter the amount in whole shillings."
    assert till.window.current is None
    assert till.run(till.service.history()) == []


def test_f8_after_a_failed_result_pays_the_same_sale_in_cash(till: Till) -> None:
    window = till.window
    till.charge("150", "0711000002")
    till.wait_for_status("Not paid", "enough money")
    failed = till.current()
    step = window.sale.status_panel.buttons[Action.TAKE_CASH]
    assert step.isVisible() and step.text().endswith("(F8)")
    till.press(Qt.Key.Key_F8)
    till.wait_for_status("Paid", "Cash KES 150 taken. Sale paid.")
    cash = till.current()
    assert cash.sale_id == failed.sale_id and cash.method == "cash" and cash.amount_kes == 150
    assert sorted(attempts_of(till, failed.sale_id)) == [("failed", "stk"), ("paid", "cash")]
    # Typing the next amount starts the next sale with it.
    till.qtbot.keyClicks(focused(), "5")
    till.qtbot.waitUntil(lambda: window.sale.amount_input.text() == "5")
    assert window.current is None


def test_the_take_cash_button_after_an_unknown_result_records_cash(till_factory) -> None:  # type: ignore[no-untyped-def]
    till = till_factory()
    till.charge("90", "0711000009")  # push answered HTTP 500: unknown, nothing rang
    till.wait_for_status("Unknown")
    unknown = till.current()
    till.window.sale.status_panel.buttons[Action.TAKE_CASH].click()
    till.wait_for_status("Cash KES 90 taken. Sale paid.")
    assert till.current().sale_id == unknown.sale_id
    report = till.run(till.service.day_report())
    assert report.unknowns == [] and report.cash_expected_kes == 90


def test_f8_on_a_paid_sale_is_refused_with_the_reason_and_records_nothing(till: Till) -> None:
    till.charge("10", "0708374149")
    till.wait_for_status("Paid", "Receipt ")
    paid = till.current()
    till.press(Qt.Key.Key_F8)
    message = till.window.sale.form_message
    till.qtbot.waitUntil(lambda: message.text() != "")
    assert message.text() == f"Cash not taken: Sale {paid.sale_id} is already paid by M-Pesa."
    assert till.current().attempt_id == paid.attempt_id
    assert [method for _state, method in attempts_of(till, paid.sale_id)] != ["cash"]
    assert len(attempts_of(till, paid.sale_id)) == 1


def test_f8_in_kiswahili_is_the_same_key_and_says_one_swahili_sentence(till: Till) -> None:
    window = till.window
    window.set_language("sw")
    step = window.sale.status_panel.buttons[Action.TAKE_CASH]
    assert step.isVisible() and step.text().replace("\n", " ") == "Pokea pesa taslimu (F8)"
    till.qtbot.keyClicks(window.sale.amount_input, "40")
    till.press(Qt.Key.Key_F8)
    till.wait_for_status("Imelipwa", "Pesa taslimu KES 40 imepokelewa. Mauzo yamelipwa.")
    sale_id = till.current().sale_id
    till.press(Qt.Key.Key_F8)  # the same sale again: taken already, so nothing counts twice
    till.qtbot.wait(200)
    assert attempts_of(till, sale_id) == [("paid", "cash")]


def test_the_day_report_shows_takings_by_tender_and_the_cash_up(till: Till) -> None:
    window = till.window
    till.qtbot.keyClicks(window.sale.amount_input, "75")
    till.press(Qt.Key.Key_F8)
    till.wait_for_status("Cash KES 75 taken. Sale paid.")
    till.press(Qt.Key.Key_F3)
    report = window.report
    till.qtbot.waitUntil(lambda: report.report is not None and report.report.cash_expected_kes == 75)
    tenders = {
        report.method_table.item(r, 0).text(): (
            report.method_table.item(r, 1).text(),
            report.method_table.item(r, 2).text(),
        )
        for r in range(report.method_table.rowCount())
    }
    assert tenders["Cash"] == ("1", "75") and tenders["M-Pesa prompt"] == ("0", "0")
    assert report.cash_up.text() == "Cash-up: KES 75 in cash should be in the drawer (1 cash sale(s))."
    assert report.paid_total.text() == "Paid today: KES 75"
