"""Take the README's screenshots of the till in demo mode: sale screen, a paid result, a failure, a push
M-Pesa refused, an unknown result, the day report and the history, the QR tender. Real window, real engine,
the Daraja simulator; nothing is faked.

    xvfb-run -a .venv/bin/python scripts/screenshots.py        # writes docs/screenshots/*.png
    xvfb-run -a .venv/bin/python scripts/screenshots.py --size 1024x600 --lang sw
                                                   # writes docs/screenshots/*-1024x600-sw.png

Runs under any Qt platform (QT_QPA_PLATFORM=offscreen works too); Xvfb gives the fonts and rendering a
desktop has.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# A developer tool that drives the window, so it stands with the UI code on the Qt side of the line.
from PySide6.QtWidgets import QApplication  # noqa: E402, TID251
from qasync import QEventLoop  # noqa: E402, TID251

from pos_app.config import load_config  # noqa: E402
from pos_app.engine.service import TillService  # noqa: E402
from pos_app.ui.main_window import MainWindow  # noqa: E402
from pos_app.ui.resources import app_icon, stylesheet  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
OWNER_PIN = "2468"


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("the window did not get there in time")
        await asyncio.sleep(0.05)


SUFFIX = ""  # "-1024x600-sw" when a size or language is asked for


async def shoot(window: MainWindow, name: str) -> None:
    # Let Qt lay out and paint through the loop (never processEvents() inside a coroutine: qasync
    # would try to run other tasks inside this one).
    await asyncio.sleep(0.2)
    path = OUT / f"{name}{SUFFIX}.png"
    window.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")


async def shoot_with_dialog(window: MainWindow, name: str) -> None:
    """The window with its open dialog over it, as the cashier sees them: the screen's pixels where the
    window is (a dialog is its own top-level window, so window.grab() would leave it out)."""
    await asyncio.sleep(0.3)
    geometry = window.frameGeometry()
    screen = QApplication.primaryScreen()
    picture = screen.grabWindow(0, geometry.x(), geometry.y(), geometry.width(), geometry.height())
    path = OUT / f"{name}{SUFFIX}.png"
    picture.save(str(path))
    print(f"wrote {path.relative_to(ROOT)}")


async def close_dialogs(window: MainWindow) -> None:
    for dialog in window.open_dialogs():
        dialog.close()
    await until(lambda: not window.open_dialogs())


async def counter_payments(window: MainWindow, service: TillService) -> None:
    """Paid to till and the customer's message: two customers pay the demo paybill from their phones
    (Ctrl+D), one payment settles a sale, and the message check gives each of its three answers."""
    from pos_app.ui.message_check_dialog import MessageCheckDialog
    from pos_app.ui.paid_to_till_dialog import PaidToTillDialog

    first = await service.demo_customer_pays(350)
    second = await service.demo_customer_pays(200)
    await sale(window, "350", "")
    window.on_paid_to_till()
    dialog = next(d for d in window.open_dialogs() if isinstance(d, PaidToTillDialog))
    await until(lambda: dialog.list.count() == 2)
    await shoot_with_dialog(window, "paid-to-till")
    dialog.on_claim()
    await until(lambda: window.current is not None and window.current.state == "paid")
    await until(lambda: not window.open_dialogs())
    await shoot(window, "paid-to-till-paid")

    for code, name in ((second, "check-free"), (first, "check-used"), ("TK3MX6CLYC", "check-not-received")):
        window.on_check_message()
        check = next(d for d in window.open_dialogs() if isinstance(d, MessageCheckDialog))
        check.code_input.setText(code)
        check.on_check_clicked()
        await until(lambda check=check: bool(check.result_label.text()))
        await shoot_with_dialog(window, name)
        await close_dialogs(window)


async def qr_sale(window: MainWindow) -> None:
    """Pay by QR (F12): the sale's QR code over the window, then the demo customer scans it (Ctrl+D) and the
    sale is paid by itself."""
    from pos_app.ui.qr_dialog import QrDialog

    await sale(window, "1250", "")
    window.on_qr()
    dialog = next(d for d in window.open_dialogs() if isinstance(d, QrDialog))
    await until(lambda: dialog.qr is not None)
    await shoot_with_dialog(window, "qr")
    dialog.on_demo_scan()
    await until(lambda: not window.open_dialogs())
    await until(lambda: window.current is not None and window.current.method == "qr")
    await shoot(window, "qr-paid")


async def owner_dialogs(window: MainWindow) -> None:
    """A manual receipt for an unknown sale (the owner PIN asked), and Settings with the owner's part
    first."""
    from pos_app.ui.manual_receipt_dialog import ManualReceiptDialog
    from pos_app.ui.settings_dialog import SettingsDialog

    await charge_and_wait(window, "650", "0711000009", "unknown")
    window.on_manual_receipt_clicked()
    manual = next(d for d in window.open_dialogs() if isinstance(d, ManualReceiptDialog))
    manual.receipt_input.setText("QK81XYZ7PA")
    await shoot_with_dialog(window, "manual-receipt")
    await close_dialogs(window)

    window.on_settings_clicked()
    await until(lambda: any(isinstance(d, SettingsDialog) for d in window.open_dialogs()))
    settings = next(d for d in window.open_dialogs() if isinstance(d, SettingsDialog))
    await until(lambda: settings.loaded is not None)
    await shoot_with_dialog(window, "settings")
    await close_dialogs(window)


async def sale(window: MainWindow, amount: str, phone: str) -> None:
    window.new_sale()
    window.sale.amount_input.setText(amount)
    window.sale.phone_input.setText(phone)
    window.sale.phone_input.textEdited.emit(phone)  # as if typed: the field formats itself
    await asyncio.sleep(0.1)


async def charge_and_wait(window: MainWindow, amount: str, phone: str, *states: str) -> None:
    await sale(window, amount, phone)
    window.sale.charge_button.click()
    await until(lambda: window.current is not None and window.current.state in states)


async def take(window: MainWindow, lang: str) -> None:
    service = await TillService.open(load_config(force_demo=True))
    try:
        await service.set_owner_pin(None, OWNER_PIN)
        window.attach(service)
        window.set_language(lang)
        await asyncio.sleep(0.5)

        await sale(window, "1250", "0708374149")
        await shoot(window, "sale")

        window.sale.charge_button.click()
        await until(lambda: window.current is not None and window.current.state == "prompt_sent")
        await asyncio.sleep(1.2)
        await shoot(window, "waiting")
        await until(lambda: window.current is not None and window.current.receipt is not None)
        await asyncio.sleep(0.2)
        await shoot(window, "paid")

        await charge_and_wait(window, "480", "0711000002", "failed")
        await shoot(window, "failure")

        # The push itself refused (docs/daraja.md §2b).
        await charge_and_wait(window, "150", "0711000007", "failed")
        await shoot(window, "refused")

        await charge_and_wait(window, "650", "0711000009", "unknown")  # no answer to the push
        await shoot(window, "unknown")

        await charge_and_wait(window, "300", "0711000001", "failed")
        assert window.current is not None
        await service.enter_manual_receipt(window.current.attempt_id, "QK81XYZ7PA", OWNER_PIN)
        await charge_and_wait(window, "95", "0708374149", "paid")
        await charge_and_wait(window, "2000", "0711000003", "failed")
        window.new_sale()

        window.on_report_clicked()
        await until(lambda: window.report.report is not None and window.report.report.paid_total_kes > 0)
        await asyncio.sleep(0.3)
        await shoot(window, "report")

        window.on_history_clicked()
        await asyncio.sleep(0.8)
        await shoot(window, "history")

        await counter_payments(window, service)
        await qr_sale(window)
        await owner_dialogs(window)
    finally:
        window.detach()
        await service.close()


def main() -> int:
    global SUFFIX
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", help="window size, e.g. 1024x600 (default 1100x720)")
    parser.add_argument("--lang", choices=("en", "sw"), help="language (default en)")
    options = parser.parse_args()
    width, height = (int(n) for n in (options.size or "1100x720").split("x"))
    lang = options.lang or "en"
    if options.size or options.lang:
        SUFFIX = f"-{width}x{height}-{lang}"
    OUT.mkdir(parents=True, exist_ok=True)
    home = tempfile.mkdtemp(prefix="mpesa-till-shots-")
    os.environ["MPESA_TILL_HOME"] = home  # a fresh demo till, not the developer's own sales
    os.chdir(home)  # and no .env from the working folder
    app = QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    app.setStyleSheet(stylesheet())
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    window.resize(width, height)
    window.show()
    with loop:
        loop.run_until_complete(take(window, lang))
    window.close_without_asking()
    return 0


if __name__ == "__main__":
    sys.exit(main())
