"""A paid sale's receipt goes to the receipt printer by keyboard (Alt+P), again from History marked COPY,
and a printer that is away costs one sentence, never the sale. The printer here is a loopback TCP
listener standing in for a network printer's raw port (9100 style)."""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt

from daraja_core import utc_text
from daraja_core.password import NAIROBI
from tests.ui.harness import Till, focused

pytestmark = pytest.mark.gui

SHOP = "Mama Njeri Shop"


class LoopbackPrinter:
    """Accepts connections on an ephemeral loopback port and keeps every byte each one sends."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self.jobs: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _address = self._server.accept()
            except OSError:
                return  # closed
            with connection:
                received = b""
                while chunk := connection.recv(4096):
                    received += chunk
            with self._lock:
                self.jobs.append(received)

    def received(self) -> list[bytes]:
        with self._lock:
            return list(self.jobs)

    def close(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)


@pytest.fixture
def printer() -> Iterator[LoopbackPrinter]:
    listener = LoopbackPrinter()
    yield listener
    listener.close()


def closed_port() -> int:
    """A loopback port nothing listens on (a printer that is switched off)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


def use_printer(till: Till, port: int) -> None:
    till.service.config = dataclasses.replace(
        till.service.config, printer=f"tcp://127.0.0.1:{port}", shop_name=SHOP
    )


def paid_sale_with_description(till: Till, description: str) -> None:
    till.type_sale("120", "0708374149")
    till.press(Qt.Key.Key_Tab)  # Charge
    till.press(Qt.Key.Key_Tab)  # Description
    assert focused() is till.window.sale.description_input
    till.qtbot.keyClicks(focused(), description)
    till.press(Qt.Key.Key_Return)
    current = till.window.sale_flow
    till.qtbot.waitUntil(
        lambda: (
            current.current is not None and current.current.state == "paid" and bool(current.current.receipt)
        ),
        timeout=15_000,
    )


def test_alt_p_prints_the_paid_sale_with_shop_amount_receipt_and_description(till, printer):
    use_printer(till, printer.port)
    paid_sale_with_description(till, "Bread")
    button = till.window.sale.status_panel.buttons[till.window.sale.status_panel.presentation.actions[0]]
    assert "(Alt+P)" in button.text()
    till.press(Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: any(printer.received()), timeout=10_000)
    job = next(job for job in printer.received() if job)
    receipt = till.current().receipt
    assert receipt
    assert job.startswith(b"\x1b@")  # ESC @: the printer is reset first
    for part in (SHOP.encode(), b"KES 120", receipt.encode(), b"Bread"):
        assert part in job
    assert b"COPY" not in job
    till.qtbot.waitUntil(lambda: till.window.sale.form_message.text() == "Receipt printed.")
    assert till.current().state == "paid"


def test_a_printer_that_is_away_costs_one_sentence_and_the_sale_stays_paid(till):
    use_printer(till, closed_port())
    paid_sale_with_description(till, "Milk")
    till.press(Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: "did not print" in till.window.sale.form_message.text(), timeout=15_000)
    assert till.window.sale.form_message.text().count(".") == 1  # one plain sentence
    assert till.current().state == "paid"
    assert till.status_text().startswith("Paid")
    assert "Milk" in [view.description for view in till.window.history.model.views()]


def test_no_printer_set_offers_no_print_step(till):
    paid_sale_with_description(till, "Tea")
    assert "print_receipt" not in [a.value for a in till.window.sale.status_panel.visible_actions()]


def test_reprint_from_history_is_marked_copy_and_shows_the_description(till, printer):
    use_printer(till, printer.port)
    paid_sale_with_description(till, "Sugar 2kg")
    receipt = till.current().receipt
    assert receipt
    till.press(Qt.Key.Key_F2)
    history = till.window.history
    till.qtbot.waitUntil(lambda: history.reprint_button.isVisible())  # the day's sales are loaded
    assert history.table.model().rowCount() == 1
    column = history.description_column()
    assert history.table.model().index(0, column).data() == "Sugar 2kg"
    till.qtbot.keyClick(history.table, Qt.Key.Key_Down)  # the owner moves into the table to the sale
    till.qtbot.waitUntil(lambda: history.selected() is not None and history.reprint_button.isEnabled())
    assert "(Alt+P)" in history.reprint_button.text()
    till.press(Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: any(b"COPY" in job for job in printer.received()), timeout=10_000)
    job = next(job for job in printer.received() if b"COPY" in job)
    assert receipt.encode() in job and b"Sugar 2kg" in job
    assert all(b"COPY" in job for job in printer.received() if job)  # the sale screen printed nothing


def test_history_and_day_report_show_the_day_picked(till):
    """Yesterday's sale (its stored time moved back a day) shows once the day picker says yesterday."""
    paid_sale_with_description(till, "Rice")
    sale = till.current()
    with sqlite3.connect(till.service.store.path) as database:
        database.execute(
            "UPDATE payment_attempts SET created_at = ? WHERE id = ?",
            (utc_text.encode(sale.created_at - timedelta(days=1)), sale.attempt_id),
        )
    window = till.window
    till.press(Qt.Key.Key_F2)
    history = window.history
    till.qtbot.waitUntil(lambda: history.model.day is not None and history.proxy.rowCount() == 0)
    history.day_edit.setFocus()
    till.qtbot.waitUntil(lambda: focused() is history.day_edit)
    till.press(Qt.Key.Key_Down)  # the day section steps back one day
    yesterday = history.day()
    assert yesterday == sale.created_at.astimezone(NAIROBI).date() - timedelta(days=1)
    till.qtbot.waitUntil(lambda: history.model.day == yesterday and history.proxy.rowCount() == 1)
    assert history.proxy.index(0, history.description_column()).data() == "Rice"

    till.press(Qt.Key.Key_F3)
    report = window.report
    till.qtbot.waitUntil(lambda: report.report is not None)
    report.day_edit.setFocus()
    till.qtbot.waitUntil(lambda: focused() is report.day_edit)
    till.press(Qt.Key.Key_Down)
    till.qtbot.waitUntil(lambda: report.report is not None and report.report.day == yesterday)
    till.qtbot.waitUntil(lambda: report.report is not None and report.report.paid_total_kes == 120)
    assert report.paid_total.text() == f"Paid on {yesterday.isoformat()}: KES 120"  # not "today"


def test_in_kiswahili_the_print_step_and_the_away_sentence_are_kiswahili_with_the_same_key(till):
    till.press(Qt.Key.Key_F9)
    till.qtbot.waitUntil(lambda: till.service.config.language == "sw")  # stored
    use_printer(till, closed_port())
    paid_sale_with_description(till, "Unga")
    button = till.window.sale.status_panel.buttons[till.window.sale.status_panel.presentation.actions[0]]
    assert button.text() == "Chapisha risiti\n(Alt+P)"
    till.press(Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    till.qtbot.waitUntil(lambda: "haikuchapishwa" in till.window.sale.form_message.text(), timeout=15_000)
    assert till.current().state == "paid"
