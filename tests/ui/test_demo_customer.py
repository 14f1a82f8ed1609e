"""Demo mode: Ctrl+D plays a customer paying the amount on the sale screen to the till from their phone,
so Paid to till (F7) can be tried with no phone and no money; the same key in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from pos_app.config import load_config
from pos_app.engine.service import TillService
from pos_app.ui.main_window import MainWindow
from pos_app.ui.paid_to_till_dialog import PaidToTillDialog
from tests.ui.harness import wait_task

pytestmark = pytest.mark.gui


def test_ctrl_d_in_the_demo_makes_a_customer_payment_that_f7_offers(
    qtbot, qloop, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    config = load_config(
        env={"MPESA_TILL_HOME": str(tmp_path)}, dotenv_path=tmp_path / "x.env", force_demo=True
    )
    service = wait_task(qloop, qtbot, TillService.open(config))
    window = MainWindow()
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    window.attach(service)
    try:
        assert "Ctrl+D" in window.banner.text()
        qtbot.waitUntil(window.sale.amount_input.hasFocus)
        qtbot.keyClick(window.sale.amount_input, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(
            lambda: window.sale.form_message.text() == "Type the amount the customer pays, then Ctrl+D."
        )
        qtbot.keyClicks(window.sale.amount_input, "350")
        qtbot.keyClick(window.sale.amount_input, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
        said = "Demo: a customer paid KES 350 to the till; F7 shows it."
        qtbot.waitUntil(lambda: window.sale.form_message.text() == said, timeout=15_000)
        qtbot.keyClick(window.sale.amount_input, Qt.Key.Key_F7)
        qtbot.waitUntil(lambda: bool(window.open_dialogs()), timeout=5000)
        dialog = window.open_dialogs()[0]
        assert isinstance(dialog, PaidToTillDialog)
        qtbot.waitUntil(lambda: dialog.list.count() == 1, timeout=10_000)
        assert dialog.offer_label.text().startswith("KES 350 from DEMO")
        qtbot.keyClick(dialog.list, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: window.current is not None and window.current.state == "paid", timeout=10_000)
        assert (window.current.method, window.current.amount_kes) == ("c2b", 350)
    finally:
        window.detach()
        wait_task(qloop, qtbot, service.close())
        window.close_without_asking()
        window.deleteLater()
