"""F7 on the sale screen: the payments made to the shop's till number (C2B, docs/daraja.md §6), live from
the relay's feed; the one of the sale's amount first and focused, Enter settles the sale with it."""

from __future__ import annotations

import functools

import pytest
from PySide6.QtCore import Qt

from pos_app.ui.paid_to_till_dialog import PaidToTillDialog
from relay.c2b import ShopRef, add_till_to_shop, create_shop
from relay.db import Database
from tests.relay.c2b_support import customer_pays, register_relay
from tests.ui.harness import Till, focused

pytestmark = pytest.mark.gui

TILL_NUMBER = "5123456"


async def shop_of(till: Till) -> ShopRef:
    """The harness's till joins a shop with a till number, as the owner would set it up on the relay."""
    db = Database(till.relay.database_url)
    try:
        shop = await db.write(lambda c: create_shop(c, "duka", TILL_NUMBER))
        await db.write(functools.partial(add_till_to_shop, shop_name="duka", till_name="ui-test-till"))
    finally:
        await db.dispose()
    return shop


def test_f7_offers_the_payment_of_the_sale_amount_first_and_enter_settles_the_sale_with_it(
    till: Till,
) -> None:
    window = till.window
    till.run(register_relay(till.simulator, till.relay, till.run(shop_of(till))))
    paid = till.run(customer_pays(till.simulator, TILL_NUMBER, 350))
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus(), timeout=3000)
    till.qtbot.keyClicks(window.sale.amount_input, "350")
    till.press(Qt.Key.Key_F7)
    till.qtbot.waitUntil(lambda: bool(window.open_dialogs()), timeout=5000)
    dialog = window.open_dialogs()[0]
    assert isinstance(dialog, PaidToTillDialog)
    till.qtbot.waitUntil(lambda: dialog.list.count() == 1, timeout=5000)
    # A payment arriving while the list is open shows at once; the sale's amount stays first and focused.
    other = till.run(customer_pays(till.simulator, TILL_NUMBER, 200))
    till.qtbot.waitUntil(lambda: dialog.list.count() == 2, timeout=10_000)
    assert dialog.list.currentRow() == 0
    assert [o.trans_id for o in dialog.offers] == [paid["TransID"], other["TransID"]]
    assert dialog.offer_label.text() == "KES 350 from DEMO, 07** *** 149 — use it for this sale? Enter"
    assert dialog.list.item(1).text() == "KES 200 · DEMO · 07** *** 149 · just now"
    assert focused() is dialog.list

    till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=10_000)
    shown = till.current()
    assert (shown.state, shown.method, shown.receipt, shown.amount_kes) == (
        "paid",
        "c2b",
        paid["TransID"],
        350,
    )
    offers = till.run(till.service.c2b_offers())
    assert [o.trans_id for o in offers] == [other["TransID"]]


def test_f7_with_no_payment_waiting_says_so_and_esc_gives_the_sale_back(till: Till) -> None:
    window = till.window
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus(), timeout=3000)
    till.press(Qt.Key.Key_F7)
    till.qtbot.waitUntil(lambda: bool(window.open_dialogs()), timeout=5000)
    dialog = window.open_dialogs()[0]
    assert isinstance(dialog, PaidToTillDialog)
    till.qtbot.waitUntil(lambda: dialog.offer_label.text() != "", timeout=5000)
    assert dialog.offer_label.text() == (
        "No payments to the till number are waiting. New ones show here as they arrive."
    )
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=5000)
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus(), timeout=3000)
