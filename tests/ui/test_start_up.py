"""A charge typed while the till is still starting waits and goes out when the engine is ready, or says
why not: never a silent drop (the window shows before the engine, pos_app/ui/app.py)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from pos_app.ui.main_window import MainWindow
from tests.ui.harness import focused

pytestmark = pytest.mark.gui


def test_a_charge_typed_during_start_up_goes_out_once_the_till_is_ready(till_factory):
    till = till_factory(attach=False)
    window = till.window
    assert window.service is None
    till.charge("10", "0708374149")
    till.qtbot.waitUntil(lambda: "as soon as the till is ready" in till.status_text())
    assert window.sale.amount_input.isReadOnly()
    till.press(Qt.Key.Key_Return)  # a second Enter while it waits sends nothing more
    assert till.pushes() == []

    window.attach(till.service)
    till.wait_for_status("Paid", "Receipt ")
    assert till.current().amount_kes == 10
    assert len(till.pushes()) == 1


def test_escape_withdraws_a_charge_waiting_for_start_up(till_factory):
    till = till_factory(attach=False)
    window = till.window
    till.charge("10", "0708374149")
    till.qtbot.waitUntil(lambda: "as soon as the till is ready" in till.status_text())
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: not window.sale.amount_input.isReadOnly())
    assert window.sale.amount_input.text() == "10"
    assert focused() == window.sale.amount_input
    window.attach(till.service)
    # The next sale is the first prompt the simulator sees: the withdrawn one never went out.
    window.sale.amount_input.clear()
    till.qtbot.keyClicks(window.sale.amount_input, "20")
    till.press(Qt.Key.Key_Return)
    till.wait_for_status("Paid", "Receipt ")
    assert [view.amount_kes for view in till.run(till.service.history())] == [20]
    assert len(till.pushes()) == 1


def test_a_charge_waiting_for_a_till_that_fails_to_start_says_it_was_not_sent(qtbot, qloop):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus())
    qtbot.keyClicks(window.sale.amount_input, "10")
    qtbot.keyClick(window.sale.amount_input, Qt.Key.Key_Tab)
    qtbot.keyClicks(window.sale.phone_input, "0708374149")
    qtbot.keyClick(window.sale.phone_input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "as soon as the till is ready" in window.sale.status_panel.status_label.text())

    window.show_start_error("MPESA_SHORTCODE is missing")
    message = window.sale.form_message.text()
    assert message.startswith("Not sent: ") and "MPESA_SHORTCODE is missing" in message
    assert not window.sale.amount_input.isReadOnly()
    assert window.sale.status_panel.status_label.text().startswith("Ready")
