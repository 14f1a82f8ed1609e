"""The cashier checks a customer's M-Pesa message from the sale screen with the keyboard only: F10, the
code, Enter, and one coloured sentence; against the real relay and simulator (a C2B payment to the
shop, the same payment once a sale claimed it, a made-up code), in English and Kiswahili."""

from __future__ import annotations

import functools

import httpx
import pytest
from PySide6.QtCore import Qt

from pos_app.ui.message_check_dialog import MessageCheckDialog
from relay.c2b import add_till_to_shop, create_shop
from relay.db import Database
from tests.relay.c2b_support import auth, customer_pays, register_relay
from tests.ui.harness import Till, focused
from tests.ui.test_owner_screens import open_dialog

pytestmark = pytest.mark.gui

TILL_NUMBER = "5123456"


async def customer_paid_the_shop(till: Till, amount_kes: int) -> str:
    """Make the window's till one of a shop on TILL_NUMBER; the customer pays it; the receipt code."""
    db = Database(till.relay.database_url)
    try:
        shop = await db.write(lambda c: create_shop(c, "duka", TILL_NUMBER))
        await db.write(functools.partial(add_till_to_shop, shop_name="duka", till_name="ui-test-till"))
    finally:
        await db.dispose()
    await register_relay(till.simulator, till.relay, shop)
    return str((await customer_pays(till.simulator, TILL_NUMBER, amount_kes))["TransID"])


async def a_sale_claims(till: Till, code: str, sale: str) -> None:
    async with httpx.AsyncClient(base_url=till.relay.base_url, trust_env=False) as client:
        answer = await client.post(
            f"/api/v1/c2b/{code}/claim", json={"order_id": sale}, headers=auth(till.relay_key)
        )
    answer.raise_for_status()


def check(till: Till, dialog: MessageCheckDialog, code: str, first_words: str) -> str:
    """Type a code over whatever is in the box, Enter, and wait for the sentence."""
    till.qtbot.waitUntil(lambda: dialog.code_input.hasFocus(), timeout=3000)
    till.qtbot.keyClicks(dialog.code_input, code)
    till.qtbot.keyClick(dialog.code_input, Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: dialog.result_label.text().startswith(first_words), timeout=10_000)
    # The whole answer shows: the label is as tall as its wrapped lines need (never cut mid-sentence).
    label = dialog.result_label
    till.qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=3000)
    return str(dialog.result_label.property("tone"))


def test_f10_checks_a_message_genuine_then_used_then_not_received_and_esc_closes(till: Till) -> None:
    code = till.run(customer_paid_the_shop(till, 1200))
    till.press(Qt.Key.Key_F10)
    dialog = open_dialog(till, MessageCheckDialog)
    assert check(till, dialog, code.lower(), "GENUINE: KES 1,200 from DEMO at ") == "paid"
    assert dialog.code_input.text() == code
    till.run(a_sale_claims(till, code, "SALE-42"))
    assert (
        check(till, dialog, code, "ALREADY USED: this payment of KES 1,200 was taken by sale SALE-42")
        == "unknown"
    )
    tone = check(till, dialog, "tk3mx6clyc", "NOT RECEIVED")
    assert tone == "failed"
    assert dialog.result_label.text() == (
        "NOT RECEIVED: this shop has no M-Pesa payment TK3MX6CLYC. Do not hand over the goods."
    )
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=3000)
    till.qtbot.waitUntil(lambda: not till.window.open_dialogs(), timeout=3000)


def test_in_kiswahili_the_answer_and_a_bad_code_are_in_kiswahili(till: Till) -> None:
    till.window.set_language("sw")
    till.press(Qt.Key.Key_F10)
    dialog = open_dialog(till, MessageCheckDialog)
    assert dialog.windowTitle() == "Kagua ujumbe wa mteja"
    check(till, dialog, "TK3MX", "Risiti ya M-Pesa")
    assert dialog.result_label.property("tone") == "unknown"
    assert focused() == dialog.code_input
    assert check(till, dialog, "TK3MX6CLYC", "HAYAJAPOKELEWA") == "failed"
