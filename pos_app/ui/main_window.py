"""The till's main window: screens, keyboard, and one thin async slot per cashier action.

The window holds no payment rules. The sale flow (its modes and their moves) lives in SaleController;
the window wires the screens, the F-keys and the dialogs, and every slot that awaits TillService does so
through busy() (one error policy, controls always re-enabled).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from pos_app.ui import presentation
from pos_app.ui.busy import busy
from pos_app.ui.c2b_release_dialog import C2bReleaseDialog
from pos_app.ui.diagnostics_view import DiagnosticsView
from pos_app.ui.formatting import kes
from pos_app.ui.history_view import HistoryView
from pos_app.ui.manual_receipt_dialog import ManualReceiptDialog
from pos_app.ui.message_check_dialog import MessageCheckDialog
from pos_app.ui.naming import named
from pos_app.ui.paid_to_till_dialog import PaidToTillDialog
from pos_app.ui.qr_dialog import QrDialog
from pos_app.ui.receipt_printing import can_print, print_sale
from pos_app.ui.report_view import ReportView
from pos_app.ui.resources import app_icon
from pos_app.ui.sale_controller import SaleController
from pos_app.ui.sale_screen import SaleScreen
from pos_app.ui.settings_dialog import SettingsDialog
from pos_app.ui.shortcuts import (
    CHECK_MESSAGE_KEY,
    DEMO_CUSTOMER_KEY,
    NAV_KEYS,
    PAID_TO_TILL_KEY,
    QR_KEY,
    with_key,
)
from pos_app.ui.status_bar import Banner, TillStatusBar
from pos_app.ui.strings import engine_text, text

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView, TillSettings, TillStatus

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    closed = Signal()  # the window closed for good (after any pending-payment warning)

    def __init__(self, lang: str = "en") -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.service: TillService | None = None
        self.lang = lang
        self._unsubscribers: list[Callable[[], None]] = []
        self._open_dialogs: list[QWidget] = []
        self._force_close = False

        self.banner = Banner()
        self.sale = SaleScreen()
        self.history = HistoryView()
        self.report = ReportView()
        self.diagnostics = DiagnosticsView()
        self.stack = QStackedWidget()
        for screen in (self.sale, self.history, self.report, self.diagnostics):
            self.stack.addWidget(screen)
        self.sale_flow = SaleController(
            self.sale, self.history.model, lambda: self.stack.currentWidget() is self.sale, self
        )

        self.nav: dict[str, QPushButton] = {}
        nav_row = QHBoxLayout()
        nav_row.setSpacing(8)
        for key, name, handler in (
            ("nav_sale", "saleButton", self.show_sale),
            ("nav_history", "historyButton", self.on_history_clicked),
            ("nav_report", "reportButton", self.on_report_clicked),
            ("nav_manual", "manualReceiptButton", self.on_manual_receipt_clicked),
            ("nav_diagnostics", "diagnosticsButton", self.on_diagnostics_clicked),
            ("nav_settings", "settingsButton", self.on_settings_clicked),
            ("nav_language", "languageButton", self.on_language_clicked),
        ):
            button = QPushButton()
            named(button, name)
            button.setProperty("role", "nav")
            # Off the Tab chain so Tab stays amount → phone → Charge; each has its F-key instead.
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            # Never narrower than its words: the Swahili labels are longer and must not be cut.
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            button.clicked.connect(handler)
            self.nav[key] = button
            nav_row.addWidget(button)
            if key == "nav_manual":
                nav_row.addStretch(1)

        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        nav_holder = QWidget()
        nav_holder.setObjectName("navBar")
        nav_holder.setLayout(nav_row)
        nav_row.setContentsMargins(16, 10, 16, 10)
        column.addWidget(nav_holder)
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.status_bar = TillStatusBar()
        self.setStatusBar(self.status_bar)

        self.sale_flow.verify_requested.connect(self.on_manual_receipt_clicked)
        self.sale.qr_requested.connect(self.on_qr)
        QShortcut(QKeySequence(PAID_TO_TILL_KEY), self, self.on_paid_to_till)
        QShortcut(QKeySequence(DEMO_CUSTOMER_KEY), self, self.on_demo_customer_pays)
        # On the sale screen: check the receipt code of the customer's M-Pesa SMS.
        check_message = QShortcut(QKeySequence(CHECK_MESSAGE_KEY), self.sale)
        check_message.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        check_message.activated.connect(self.on_check_message)
        self.sale_flow.late_result.connect(lambda message: self.status_bar.showMessage(message, 60_000))
        self.sale.status_panel.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.report.refresh_requested.connect(self.on_report_clicked)
        self.history.day_changed.connect(self._load_history)
        self.history.reprint_requested.connect(self.on_reprint_clicked)
        self.history.release_requested.connect(self.on_release_clicked)
        self.report.export_requested.connect(self.on_export_clicked)
        self.diagnostics.run_requested.connect(self.on_diagnostics_run)

        self._status_timer = QTimer(self)
        self._status_timer.setInterval(15_000)
        self._status_timer.timeout.connect(self._refresh_status)

        self.set_language(lang)
        self.sale.show_presentation(presentation.idle(lang))
        self.sale.show_message(text("starting", lang))
        self.resize(1100, 720)
        self.sale.amount_input.setFocus()

    # ---- wiring to the engine -------------------------------------------------------------------

    def attach(self, service: TillService) -> None:
        """Start showing `service`: subscribe to its announcements and enable charging."""
        self.service = service
        self._unsubscribers.append(service.subscribe(self._on_attempt_changed))
        self._unsubscribers.append(service.subscribe_status(self._on_status_changed))
        self.set_language(service.config.language)
        self.sale_flow.attach(service)
        self._on_status_changed(service.status())
        self._status_timer.start()
        self._load_history()

    def detach(self) -> None:
        self._status_timer.stop()
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        self._unsubscribers.clear()
        self.service = None
        self.sale_flow.detach()

    def show_start_error(self, message: str) -> None:
        self.sale_flow.start_failed(text("start_failed", self.lang, error=message))

    @asyncSlot()
    async def _load_history(self) -> None:
        service = self.service
        if service is None:
            return
        day = self.history.day()
        views = await service.history(day)
        self.history.show_day(day, views)
        self.history.set_can_print(can_print(service.config))
        self.sale_flow.remember(views)

    def _on_attempt_changed(self, view: AttemptView) -> None:
        if not self.sale_flow.attempt_changed(view):
            return  # an older announcement overtaken by one already shown
        if self.stack.currentWidget() is self.report:
            self.on_report_clicked()

    def _on_status_changed(self, status: TillStatus) -> None:
        self.status_bar.show_status(status)
        self.banner.show_status(status, self.lang)

    def _refresh_status(self) -> None:
        if self.service is not None:
            self._on_status_changed(self.service.status())

    # ---- the sale (SaleController) --------------------------------------------------------------

    @property
    def current(self) -> AttemptView | None:
        """The attempt on the sale screen."""
        return self.sale_flow.current

    def new_sale(self) -> None:
        self.sale_flow.new_sale()

    def pending_count(self) -> int:
        return self.sale_flow.pending_count()

    # ---- other screens --------------------------------------------------------------------------

    def show_sale(self) -> None:
        self.stack.setCurrentWidget(self.sale)
        self.sale_flow.focus()

    @asyncSlot()
    async def on_history_clicked(self) -> None:
        self.stack.setCurrentWidget(self.history)
        self.history.search.setFocus()
        await self._load_history()

    @asyncSlot()
    async def on_report_clicked(self) -> None:
        self.stack.setCurrentWidget(self.report)
        if self.service is None:
            return
        report = await busy(self.service.day_report(self.report.day()), self.report.refresh_button)
        self.report.show_report(report)
        self.report.export_button.setFocus()

    @asyncSlot()
    async def on_reprint_clicked(self) -> None:
        """Print the selected paid sale's receipt again, marked COPY; the outcome in the status bar."""
        view = self.history.selected()
        if self.service is None or view is None or view.state != "paid" or not can_print(self.service.config):
            return
        printed = await busy(
            print_sale(view, self.service.config, self.lang, reprint=True),
            self.history.reprint_button,
            refused=lambda refusal: self.status_bar.showMessage(
                text("print_setting_bad", self.lang, reason=refusal), 30_000
            ),
        )
        if printed is not None:
            self.status_bar.showMessage(printed[0], 30_000)
        self.history.table.setFocus()

    def on_export_clicked(self) -> None:
        if self.report.report is None:
            return
        suggested = f"mpesa-till-{self.report.report.day.isoformat()}.csv"
        path, _filter = QFileDialog.getSaveFileName(
            self, text("report_export", self.lang), suggested, "CSV (*.csv)"
        )
        if path:
            self.report.export_csv(Path(path))

    @asyncSlot()
    async def on_diagnostics_clicked(self) -> None:
        self.stack.setCurrentWidget(self.diagnostics)
        self.diagnostics.run_button.setFocus()
        await self._run_diagnostics()

    @asyncSlot()
    async def on_diagnostics_run(self) -> None:
        await self._run_diagnostics()

    async def _run_diagnostics(self) -> None:
        if self.service is None:
            return
        self.diagnostics.findings.show_placeholder(text("diag_running", self.lang))
        findings = await busy(self.service.diagnostics(), self.diagnostics.run_button)
        self.diagnostics.findings.show_findings(findings)

    def manual_receipt_target(self) -> AttemptView | None:
        """The payment a manual receipt is for: the one on the sale screen, else the History selection."""
        if self.stack.currentWidget() is self.history:
            return self.history.selected() or self.current
        return self.current or self.history.selected()

    def on_manual_receipt_clicked(self) -> None:
        if self.service is None:
            return
        target = self.manual_receipt_target()
        if target is None:
            self.status_bar.showMessage(text("manual_none", self.lang), 10_000)
            return
        dialog = ManualReceiptDialog(self.service, target, self.lang, self)
        self._open_modeless(dialog)
        dialog.receipt_input.setFocus()

    def on_release_clicked(self) -> None:
        """History, Alt+G: the owner gives back the selected sale's payment to the till number."""
        view = self.history.selected()
        if self.service is None or view is None or view.method != "c2b" or view.state != "paid":
            return
        dialog = C2bReleaseDialog(self.service, view, self.lang, self)
        self._open_modeless(dialog)
        dialog.pin_input.setFocus()

    def on_paid_to_till(self) -> None:
        """The shop's unclaimed payments to the till number, for the sale on the sale screen."""
        if self.service is None:
            return
        from pos_app.engine.charging import new_id

        self.show_sale()
        sale_id = self.sale_flow.sale_id or new_id("S", 9)
        dialog = PaidToTillDialog(self.service, sale_id, self.sale.amount_input.amount_kes(), self.lang, self)
        dialog.claimed.connect(self.sale_flow.show_paid)
        self._open_modeless(dialog)
        dialog.refresh()

    def on_qr(self) -> None:
        """The sale's M-Pesa QR code, for the amount on the form (qr_dialog.py)."""
        if self.service is None:
            return
        amount_kes = self.sale.amount_input.amount_kes()
        if amount_kes is None:
            self.sale.show_message(text("qr_need_amount", self.lang, shortcut=QR_KEY), error=True)
            self.sale.amount_input.setFocus()
            return
        from pos_app.engine.charging import new_id

        sale_id = self.sale_flow.sale_id or new_id("S", 9)
        dialog = QrDialog(self.service, sale_id, amount_kes, self.lang, self)
        dialog.claimed.connect(self.sale_flow.show_paid)
        self._open_modeless(dialog)
        dialog.setFocus()
        dialog.load()

    @asyncSlot()
    async def on_demo_customer_pays(self) -> None:
        """Demo mode: a customer pays the amount on the sale screen to the till from their phone."""
        service = self.service
        if service is None or not service.config.demo:
            return
        self.show_sale()
        amount = self.sale.amount_input.amount_kes()
        if amount is None:
            self.sale.show_message(text("demo_customer_amount", self.lang), error=True)
            return
        paid = await busy(service.demo_customer_pays(amount), refused=self._demo_refused)
        if paid is not None:
            self.sale.show_message(text("demo_customer_paid", self.lang, amount=kes(amount)))

    def _demo_refused(self, refusal: Exception) -> None:
        self.sale.show_message(engine_text(str(refusal), self.lang), error=True)

    def on_check_message(self) -> None:
        if self.service is None:
            return
        dialog = MessageCheckDialog(self.service, self.lang, self)
        self._open_modeless(dialog)
        dialog.code_input.setFocus()

    @asyncSlot()
    async def on_settings_clicked(self) -> None:
        if self.service is None:
            return
        dialog = SettingsDialog(self.service, self.lang, self)
        await busy(dialog.load(), self.nav["nav_settings"])
        dialog.settings_saved.connect(self._apply_settings)
        self._open_modeless(dialog)

    def _open_modeless(self, dialog: QWidget) -> None:
        # open() (window-modal, returns at once) instead of exec() from a coroutine: the asyncio loop
        # keeps running with no nested Qt loop, and tests drive the dialog with the keyboard like a person.
        self._open_dialogs.append(dialog)
        dialog.finished.connect(lambda _result: self._forget_dialog(dialog))  # type: ignore[attr-defined]
        dialog.open()  # type: ignore[attr-defined]

    def _forget_dialog(self, dialog: QWidget) -> None:
        if dialog in self._open_dialogs:
            self._open_dialogs.remove(dialog)
        dialog.deleteLater()
        # Give the keyboard back to the window (not every platform re-activates the parent by itself).
        self.activateWindow()
        if self.stack.currentWidget() is self.sale:
            self.show_sale()

    def open_dialogs(self) -> list[QWidget]:
        return list(self._open_dialogs)

    def _apply_settings(self, settings: TillSettings) -> None:
        self.set_language(settings.language)
        self.sale.amount_input.max_amount_kes = settings.max_amount_kes
        if self.service is not None:
            self.history.set_can_print(can_print(self.service.config))

    @asyncSlot()
    async def on_language_clicked(self) -> None:
        new_lang = "en" if self.lang == "sw" else "sw"
        self.set_language(new_lang)
        if self.service is None:
            return
        await busy(self._store_language(self.service, new_lang), self.nav["nav_language"])

    @staticmethod
    async def _store_language(service: TillService, lang: str) -> None:
        stored = await service.load_settings()
        await service.save_settings(dataclasses.replace(stored, language=lang))

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.setWindowTitle(text("window_title", lang))
        for key, button in self.nav.items():
            button.setText(with_key(text(key, lang), NAV_KEYS[key]))
            button.setShortcut(QKeySequence(NAV_KEYS[key]))  # after setText, which resets it
        self.sale.set_language(lang)
        self.history.set_language(lang)
        self.report.set_language(lang)
        self.diagnostics.set_language(lang)
        self.status_bar.lang = lang
        self.sale_flow.set_language(lang)
        if self.status_bar.status is not None:
            self._on_status_changed(self.status_bar.status)

    # ---- keyboard and closing -------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.stack.currentWidget() is not self.sale:
            self.show_sale()
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        pending = self.pending_count()
        if pending and not self._force_close:
            answer = QMessageBox.question(
                self,
                text("close_pending_title", self.lang),
                text("close_pending_text", self.lang, count=pending),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        event.accept()
        self.closed.emit()

    def close_without_asking(self) -> None:
        self._force_close = True
        self.close()
