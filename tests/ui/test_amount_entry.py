"""The amount box reads what the cashier typed and never sends a prompt for another number."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.ui.harness import focused

pytestmark = pytest.mark.gui


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("12.50", "whole shillings only"),
        ("1.5", "whole shillings only"),
        ("-5", "at least KES 1"),
    ],
)
def test_an_amount_that_is_not_whole_shillings_is_explained_and_nothing_is_sent(till, typed, reason):
    window = till.window
    till.type_sale(typed, "")
    assert reason in window.sale.amount_hint.text()  # said under the box while typing
    till.qtbot.keyClicks(focused(), "0708374149")
    till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: reason in window.sale.form_message.text())
    assert focused() == window.sale.amount_input
    assert window.sale.amount_input.text() == typed
    assert till.pushes() == []
    assert till.status_text().startswith("Ready")


def test_an_amount_written_with_the_currency_and_separators_charges_that_amount(till):
    till.charge("KES 1,250.00", "0708374149")
    till.wait_for_status("Paid", "Receipt ")
    assert till.current().amount_kes == 1250
    assert "KES 1,250" in till.window.sale.status_panel.detail_label.text()
