"""History, Alt+G: the owner gives back a payment to the till number that a sale took by mistake, by keyboard
with the owner PIN; the relay frees it and the sale is no longer paid (docs/daraja.md §6)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from pos_app.ui.c2b_release_dialog import C2bReleaseDialog
from tests.relay.c2b_support import customer_pays, register_relay
from tests.ui.harness import OWNER_PIN, Till, focused
from tests.ui.test_paid_to_till import TILL_NUMBER, shop_of

pytestmark = pytest.mark.gui


def test_alt_g_in_history_gives_back_a_wrongly_taken_payment_after_the_owner_pin(till: Till) -> None:
    window = till.window
    till.run(register_relay(till.simulator, till.relay, till.run(shop_of(till))))
    code = till.run(customer_pays(till.simulator, TILL_NUMBER, 350))["TransID"]
    till.run(till.service.c2b_offers(catch_up=True))
    taken = till.run(till.service.claim_c2b("SWRONG", code))
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus(), timeout=3000)
    till.press(Qt.Key.Key_F2)
    till.qtbot.waitUntil(window.history.release_button.isVisible, timeout=3000)
    model = window.history.proxy
    till.qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    till.qtbot.keyClick(window.history.table, Qt.Key.Key_Down)  # the owner moves into the table
    till.qtbot.waitUntil(window.history.release_button.isEnabled, timeout=3000)
    assert window.history.release_button.text() == "Give back payment (Alt+G)"

    till.press(Qt.Key.Key_G, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: bool(window.open_dialogs()), timeout=5000)
    dialog = window.open_dialogs()[0]
    assert isinstance(dialog, C2bReleaseDialog)
    till.qtbot.waitUntil(lambda: focused() is dialog.pin_input, timeout=3000)
    assert code in dialog.for_label.text() and "SWRONG" in dialog.for_label.text()
    till.qtbot.keyClicks(dialog.pin_input, "0000")
    till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: dialog.result_label.text() == "Refused: Wrong owner PIN.", timeout=5000)
    assert till.run(till.service.attempt(taken.attempt_id)).state == "paid"

    till.qtbot.keyClicks(dialog.pin_input, OWNER_PIN)
    till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(
        lambda: dialog.result_label.text() == f"Payment {code} is free again for another sale.", timeout=5000
    )
    # The row changes in place: the sale is no longer paid, and the payment is offered again.
    till.qtbot.waitUntil(lambda: model.index(0, 3).data() != "Paid", timeout=5000)
    assert not window.history.release_button.isEnabled()
    assert [o.trans_id for o in till.run(till.service.c2b_offers())] == [code]
    till.press(Qt.Key.Key_Return)  # Enter now closes
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=5000)
