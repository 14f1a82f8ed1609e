"""F12 on the sale screen: the sale's M-Pesa QR code (docs/daraja.md §6b), drawn by the simulator, shown large
and scannable; the customer "scans" it (the simulator pays it), the confirmation reaches the relay, and the
dialog closes by itself with the sale paid. Esc gives the sale back."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from daraja_core.password import SANDBOX_SHORTCODE
from pos_app.daraja import BUY_GOODS
from pos_app.engine.qr_tender import QR_SIDE_PX
from pos_app.ui.qr_dialog import QrDialog
from relay.c2b import ShopRef, add_till_to_shop, create_shop
from relay.db import Database
from tests.relay.c2b_support import PAYER, register_relay
from tests.support.qr_image import says
from tests.ui.harness import Till, focused

pytestmark = pytest.mark.gui


TILL_NUMBER = "5123456"


async def paybill_shop(till: Till, number: str = SANDBOX_SHORTCODE) -> ShopRef:
    """The harness's till joins a shop that owns `number` on the relay (its paybill 174379 by default)."""
    db = Database(till.relay.database_url)
    try:
        shop = await db.write(lambda c: create_shop(c, "duka", number))
        await db.write(functools.partial(add_till_to_shop, shop_name="duka", till_name="ui-test-till"))
    finally:
        await db.dispose()
    return shop


async def till_number_shop(till: Till) -> ShopRef:
    return await paybill_shop(till, TILL_NUMBER)


async def customer_scans_and_pays(till: Till, request_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=till.simulator.base_url, trust_env=False) as client:
        answer = await client.post("/simulator/c2b/pay", json={"qr": request_id, "phone": PAYER}, timeout=15)
    assert answer.status_code == 200, answer.text
    paid: dict[str, Any] = answer.json()
    return paid


def open_qr(till: Till, amount: str) -> QrDialog:
    window = till.window
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus(), timeout=3000)
    till.qtbot.keyClicks(window.sale.amount_input, amount)
    till.press(Qt.Key.Key_F12)
    till.qtbot.waitUntil(lambda: bool(window.open_dialogs()), timeout=5000)
    dialog = window.open_dialogs()[0]
    assert isinstance(dialog, QrDialog)
    till.qtbot.waitUntil(lambda: dialog.qr is not None, timeout=10_000)
    return dialog


def test_f8_shows_the_sales_qr_and_the_paybill_payment_closes_it_with_the_sale_paid(till: Till) -> None:
    window = till.window
    till.run(register_relay(till.simulator, till.relay, till.run(paybill_shop(till))))
    assert window.sale.qr_button.text() == "M-Pesa QR (F12)"
    dialog = open_qr(till, "350")
    qr = dialog.qr
    assert qr is not None
    assert (dialog.amount.text(), dialog.scan.text(), dialog.status.text()) == (
        "KES 350",
        "Scan with M-Pesa",
        "Waiting for the payment; the sale closes by itself when it arrives.",
    )
    assert dialog.payee.text() == f"Paybill 174379, account {qr.reference}"
    # What is on the screen is the QR code of this sale: read back from the label's own pixels.
    shown = dialog.image.pixmap().toImage()
    assert (shown.width(), shown.height()) == (QR_SIDE_PX, QR_SIDE_PX)
    assert says(
        lambda x, y: QColor(shown.pixel(x, y)).lightness() < 128,
        shown.width(),
        shown.height(),
        f"DARAJA-SIMULATOR-QR?id={qr.request_id}&trx=PB&cpi=174379&amount=350&ref={qr.reference}"
        "&merchant=M-PESA+174379",
    )
    # It fits a 1024×600 screen (a 40-pixel window frame included).
    hint = dialog.sizeHint()
    assert hint.width() <= 1024 and hint.height() <= 560, hint

    paid = till.run(customer_scans_and_pays(till, qr.request_id))
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=10_000)
    shown_sale = till.current()
    assert (shown_sale.sale_id, shown_sale.state, shown_sale.method, shown_sale.receipt) == (
        qr.reference,
        "paid",
        "qr",
        paid["TransID"],
    )
    assert till.status_text() == f"Paid\nReceipt {paid['TransID']}"
    till.run(till.service.qr.close())
    stored = till.run(till.service.store.qr_codes())
    assert [(row.sale_id, row.closed_why) for row in stored] == [(qr.reference, "paid_by_qr")]


def test_f8_without_an_amount_asks_for_it_and_esc_gives_the_sale_back_in_swahili_too(till: Till) -> None:
    window = till.window
    window.set_language("sw")
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus(), timeout=3000)
    till.press(Qt.Key.Key_F12)  # a button's key clicks it a moment later (Qt animates the click)
    asks = "Andika kiasi cha mauzo kwanza, kisha bonyeza F12 kupata msimbo wake wa QR."
    till.qtbot.waitUntil(lambda: window.sale.form_message.text() == asks, timeout=3000)
    assert not window.open_dialogs()
    dialog = open_qr(till, "120")
    assert (dialog.scan.text(), dialog.windowTitle()) == ("Skani kwa M-Pesa", "Lipa kwa QR")
    sale_id = dialog.sale_id
    assert till.service.qr.showing(sale_id) is not None
    till.qtbot.waitUntil(lambda: focused() is dialog, timeout=5000)
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=5000)
    till.qtbot.waitUntil(lambda: focused() is window.sale.amount_input, timeout=3000)
    assert window.sale.amount_input.text() == "120"
    assert till.service.qr.showing(sale_id) is None
    assert till.run(till.service.store.attempts_for_sale(sale_id)) == []
    # Given back in the store too: a restart does not watch it again (tests/engine/test_qr_tender_restart.py).
    till.run(till.service.qr.close())  # the close Esc started is written
    stored = till.run(till.service.store.qr_codes())
    assert [(row.sale_id, row.closed_why) for row in stored] == [(sale_id, "given_back")]


def test_a_till_number_qr_offers_the_payment_of_the_sale_amount_and_enter_takes_it(till: Till) -> None:
    window = till.window
    till.run(register_relay(till.simulator, till.relay, till.run(till_number_shop(till))))
    # The owner set Buy Goods with the shop's till number (Settings apply these on the next start).
    till.service.config = dataclasses.replace(
        till.service.config, transaction_type=BUY_GOODS, till_number=TILL_NUMBER
    )
    dialog = open_qr(till, "420")
    qr = dialog.qr
    assert qr is not None and dialog.payee.text() == f"Till number {TILL_NUMBER}"
    paid = till.run(customer_scans_and_pays(till, qr.request_id))
    offer = "KES 420 from DEMO, 07** *** 149 — use it for this sale? Enter"
    till.qtbot.waitUntil(lambda: dialog.status.text() == offer, timeout=10_000)
    assert window.open_dialogs() == [dialog]  # not taken by itself on a till number
    till.press(Qt.Key.Key_Return)
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=10_000)
    shown_sale = till.current()
    assert (shown_sale.state, shown_sale.method, shown_sale.receipt) == ("paid", "qr", paid["TransID"])


def test_esc_while_m_pesa_draws_the_qr_gives_the_sale_back_and_the_late_code_is_not_watched(
    till: Till,
) -> None:
    window = till.window
    daraja = till.service.daraja
    drawn = daraja.dynamic_qr
    answer = asyncio.Event()
    answered = asyncio.Event()

    async def slow_daraja(**request: Any) -> Any:  # Safaricom taking its time to answer
        await answer.wait()
        try:
            return await drawn(**request)
        finally:
            answered.set()

    daraja.dynamic_qr = slow_daraja  # type: ignore[method-assign]
    till.qtbot.waitUntil(lambda: window.sale.amount_input.hasFocus(), timeout=3000)
    till.qtbot.keyClicks(window.sale.amount_input, "75")
    till.press(Qt.Key.Key_F12)
    till.qtbot.waitUntil(lambda: bool(window.open_dialogs()), timeout=5000)
    dialog = window.open_dialogs()[0]
    assert isinstance(dialog, QrDialog)
    sale_id = dialog.sale_id
    assert dialog.status.text() == "Asking M-Pesa for the QR code…"
    till.qtbot.waitUntil(lambda: focused() is dialog, timeout=5000)  # the keyboard is the dialog's
    till.press(Qt.Key.Key_Escape)
    till.qtbot.waitUntil(lambda: not window.open_dialogs(), timeout=5000)
    answer.set()
    till.run(answered.wait())
    till.qtbot.waitUntil(lambda: till.service.qr.showing(sale_id) is None, timeout=3000)
    assert window.sale.amount_input.text() == "75"
