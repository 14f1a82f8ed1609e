"""Start the desktop till: QApplication, the qasync loop, the window first, then the engine.

The window is shown before anything slow happens; the TillService opens on the loop while the cashier
already sees the screen (docs/stack-notes.md: a small window shows 0.2–0.4 s after start). Closing the
window closes the service; payments still pending resume on the next start (the engine resumes them).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from qasync import QEventLoop

from pos_app import __version__
from pos_app.ui.main_window import MainWindow
from pos_app.ui.resources import app_icon, stylesheet
from pos_app.ui.strings import text

log = logging.getLogger(__name__)


def install_excepthook(window: MainWindow) -> None:
    """qasync hands exceptions from @asyncSlot tasks to sys.excepthook: log them and tell the cashier,
    without closing the till (a crash mid-sale would be worse than a message)."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        log.error("unexpected error in the window:\n%s", "".join(traceback.format_exception(kind, error, tb)))
        box = QMessageBox(window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(text("error_title", window.lang))
        box.setText(text("error_text", window.lang, error=f"{kind.__name__}: {error}"))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    sys.excepthook = hook


async def run_window(window: MainWindow, args: argparse.Namespace) -> None:
    """Open the engine behind the already-visible window, wait for the window to close, close the engine."""
    from pos_app.config import load_config
    from pos_app.engine.service import TillService

    closed = asyncio.Event()
    window.closed.connect(closed.set)
    service: TillService | None = None
    try:
        config = load_config(force_demo=bool(getattr(args, "demo", False)))
        window.set_language(config.language)
        service = await TillService.open(config)
        window.attach(service)
    except Exception as error:  # the window stays up and says why; the owner can read and fix it
        log.exception("the till could not start")
        window.show_start_error(str(error))
    await closed.wait()
    window.detach()
    if service is not None:
        await service.close()


def run_gui(args: argparse.Namespace) -> int:
    """The `mpesa-till` window. `args.demo` forces demo mode; with nothing configured, the engine's
    configuration chooses demo by itself and the window says so."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every URL at INFO, and the diagnostics self-test posts to the callback URL, whose path
    # carries this till's callback token: keep URLs out of the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("M-Pesa Till")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    app.setStyleSheet(stylesheet())
    # The window's `closed` signal ends the run, after the pending-payment warning had its say.
    app.setQuitOnLastWindowClosed(False)
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    install_excepthook(window)
    window.show()
    with loop:
        loop.run_until_complete(run_window(window, args))
    return 0
