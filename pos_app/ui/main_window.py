"""The till's main window: screens, keyboard, and one thin async slot per cashier action.

The window holds no payment rules. It reads the form, awaits TillService, and renders the AttemptView
the engine announces (TillService.subscribe). Every slot disables its control, awaits, re-enables in
`finally` (style.md habit 2).
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

from daraja_core.phones import InvalidPhone
from pos_app.daraja.errors import InvalidPaymentRequest
from pos_app.engine.errors import ChargeRefused
from pos_app.ui import presentation
from pos_app.ui.diagnostics_view import DiagnosticsView
from pos_app.ui.formatting import kes, masked_phone
from pos_app.ui.history_view import HistoryView
from pos_app.ui.manual_receipt_dialog import ManualReceiptDialog
from pos_app.ui.presentation import Action, Tone, present
from pos_app.ui.report_view import ReportView
from pos_app.ui.resources import app_icon
from pos_app.ui.sale_screen import SaleScreen, named
from pos_app.ui.settings_dialog import SettingsDialog
from pos_app.ui.status_bar import Banner, TillStatusBar
from pos_app.ui.strings import phone_problem_text, text

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView, TillSettings, TillStatus

log = logging.getLogger(__name__)

PENDING_STATES = frozenset({"created", "prompt_sent"})


class SaleMode:
    """Where the sale screen is: typing, push in flight, waiting for the PIN, or showing a result."""

    ENTRY = "entry"
    SENDING = "sending"
    WAITING = "waiting"
    RESULT = "result"


class MainWindow(QMainWindow):
    closed = Signal()  # the window closed for good (after any pending-payment warning)
    attempt_shown = Signal(str)  # attempt id whose state the sale screen now shows

    def __init__(self, lang: str = "en") -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.service: TillService | None = None
        self.lang = lang
        self.sale_mode = SaleMode.ENTRY
        self.current: AttemptView | None = None
        self.sale_id: str | None = None
        self.latest: dict[str, AttemptView] = {}
        self.left_waiting: set[str] = set()
        self._charging = False
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

        self.nav: dict[str, QPushButton] = {}
        nav_row = QHBoxLayout()
        nav_row.setSpacing(8)
        for key, name, shortcut, handler in (
            ("nav_sale", "saleButton", "F1", self.show_sale),
            ("nav_history", "historyButton", "F2", self.on_history_clicked),
            ("nav_report", "reportButton", "F3", self.on_report_clicked),
            ("nav_manual", "manualReceiptButton", "F4", self.on_manual_receipt_clicked),
            ("nav_diagnostics", "diagnosticsButton", "F5", self.on_diagnostics_clicked),
            ("nav_settings", "settingsButton", "F6", self.on_settings_clicked),
            ("nav_language", "languageButton", "F9", self.on_language_clicked),
        ):
            button = QPushButton()
            named(button, name)
            button.setProperty("role", "nav")
            # Off the Tab chain so Tab stays amount → phone → Charge; each has its F-key instead.
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            # Never narrower than its words: the Swahili labels are longer and must not be cut.
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            button.clicked.connect(handler)
            QShortcut(QKeySequence(shortcut), self, button.click)
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

        self.sale.charge_requested.connect(self.on_charge_requested)
        self.sale.enter_pressed.connect(self._on_enter)
        self.sale.escape_pressed.connect(self._on_escape)
        self.sale.status_panel.action_chosen.connect(self._on_action)
        self.sale.status_panel.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.report.refresh_requested.connect(self.on_report_clicked)
        self.report.export_requested.connect(self.on_export_clicked)
        self.diagnostics.run_requested.connect(self.on_diagnostics_run)

        self._status_timer = QTimer(self)
        self._status_timer.setInterval(15_000)
        self._status_timer.timeout.connect(self._refresh_status)

        self.set_language(lang)
        self.sale.show_presentation(presentation.idle(lang))
        self.sale.show_message(text("starting", lang))
        self.sale.set_form_enabled(True)
        self.sale.charge_button.setEnabled(False)
        self.resize(1100, 720)
        self.setMinimumHeight(600)  # the width follows the widest labels (Swahili ones are longer)
        self.sale.amount_input.setFocus()

    # ---- wiring to the engine -------------------------------------------------------------------

    def attach(self, service: TillService) -> None:
        """Start showing `service`: subscribe to its announcements and enable charging."""
        self.service = service
        self._unsubscribers.append(service.subscribe(self._on_attempt_changed))
        self._unsubscribers.append(service.subscribe_status(self._on_status_changed))
        self.set_language(service.config.language)
        self.sale.amount_input.max_amount_kes = service.config.max_amount_kes
        self._on_status_changed(service.status())
        self._status_timer.start()
        self.sale.show_message("")
        self.sale.charge_button.setEnabled(self.sale_mode == SaleMode.ENTRY)
        self._load_history()

    def detach(self) -> None:
        self._status_timer.stop()
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        self._unsubscribers.clear()
        self.service = None

    def show_start_error(self, message: str) -> None:
        self.sale.show_message(text("start_failed", self.lang, error=message), error=True)

    @asyncSlot()
    async def _load_history(self) -> None:
        if self.service is None:
            return
        views = await self.service.history()
        self.history.model.reset(views)
        for view in views:
            self.latest.setdefault(view.attempt_id, view)

    def _on_attempt_changed(self, view: AttemptView) -> None:
        previous = self.latest.get(view.attempt_id)
        if previous is not None and previous.updated_at > view.updated_at:
            return  # an older announcement overtaken by one already shown
        self.latest[view.attempt_id] = view
        self.history.model.upsert(view)
        if self.current is not None and view.attempt_id == self.current.attempt_id:
            self.current = view
            if self.sale_mode in (SaleMode.WAITING, SaleMode.RESULT):
                self._render(view)
        elif view.attempt_id in self.left_waiting and view.state not in PENDING_STATES:
            self.left_waiting.discard(view.attempt_id)
            self.status_bar.showMessage(
                text(
                    "late_result",
                    self.lang,
                    amount=kes(view.amount_kes),
                    phone=masked_phone(view.phone),
                    state=presentation.state_word(view.state, self.lang),
                ),
                60_000,
            )
        if self.stack.currentWidget() is self.report:
            self.on_report_clicked()

    def _on_status_changed(self, status: TillStatus) -> None:
        self.status_bar.show_status(status)
        self.banner.show_status(status, self.lang)

    def _refresh_status(self) -> None:
        if self.service is not None:
            self._on_status_changed(self.service.status())

    # ---- the sale -------------------------------------------------------------------------------

    def _on_enter(self) -> None:
        if self.stack.currentWidget() is not self.sale:
            return
        if self.sale_mode == SaleMode.ENTRY:
            self.sale.charge_button.click()
        elif self.sale_mode == SaleMode.RESULT:
            self.new_sale()

    def _on_escape(self) -> None:
        if self.sale_mode == SaleMode.WAITING and self.current is not None:
            # The engine keeps waiting and querying; the cashier just stops watching (issue 5).
            view = self.current
            self.left_waiting.add(view.attempt_id)
            self.new_sale()
            self.sale.show_message(
                text("left_waiting", self.lang, amount=kes(view.amount_kes), phone=masked_phone(view.phone))
            )
        elif self.sale_mode == SaleMode.RESULT:
            self._back_to_form(focus_phone=False)
        elif self.sale_mode == SaleMode.ENTRY:
            self.sale.clear()

    def _on_action(self, action_value: str) -> None:
        action = Action(action_value)
        if action is Action.NEW_SALE:
            self.new_sale()
        elif action is Action.RETRY:
            self._back_to_form(focus_phone=False)
            self.on_charge_requested()
        elif action is Action.NO_SMS_CHARGE_AGAIN:
            self._back_to_form(focus_phone=False)
            self.on_charge_again_no_sms()
        elif action is Action.ANOTHER_NUMBER:
            self._back_to_form(focus_phone=True)
            self.sale.phone_input.clear()
        elif action is Action.TAKE_CASH:
            amount = self.current.amount_kes if self.current else self.sale.amount_input.amount_kes() or 0
            self.new_sale()
            self.sale.show_message(text("cash_taken", self.lang, amount=kes(amount)))
        elif action is Action.VERIFY:
            self.on_manual_receipt_clicked()

    def new_sale(self) -> None:
        self.current = None
        self.sale_id = None
        self.sale_mode = SaleMode.ENTRY
        self.sale.set_form_enabled(self.service is not None)
        self.sale.clear()
        self.sale.show_presentation(presentation.idle(self.lang))
        self.sale.amount_input.setFocus()

    def _back_to_form(self, *, focus_phone: bool) -> None:
        self.sale_mode = SaleMode.ENTRY
        self.sale.set_form_enabled(self.service is not None)
        self.sale.show_message("")
        target = self.sale.phone_input if focus_phone else self.sale.amount_input
        target.setFocus()

    @asyncSlot()
    async def on_charge_requested(self) -> None:
        await self._charge(customer_confirms_no_sms=False)

    @asyncSlot()
    async def on_charge_again_no_sms(self) -> None:
        await self._charge(customer_confirms_no_sms=True)

    async def _charge(self, *, customer_confirms_no_sms: bool) -> None:
        # One prompt per press: a second Enter while this one is in flight finds _charging set.
        if self.service is None or self._charging or self.sale_mode != SaleMode.ENTRY:
            return
        problem = self.sale.amount_input.problem(self.lang)
        if problem:
            self.sale.show_message(problem, error=True)
            self.sale.amount_input.setFocus()
            return
        phone_problem = self.sale.phone_input.problem()
        msisdn = self.sale.phone_input.msisdn()
        if phone_problem or msisdn is None:
            self.sale.show_message(phone_problem_text(phone_problem or "", self.lang), error=True)
            self.sale.phone_input.setFocus()
            return
        amount_kes = self.sale.amount_input.amount_kes() or 0
        self._charging = True
        self.sale_mode = SaleMode.SENDING
        self.sale.set_form_enabled(False)
        self.sale.show_message("")
        self.sale.show_presentation(presentation.sending(amount_kes, msisdn, self.lang))
        self.sale.status_panel.setFocus()
        try:
            view = await self.service.charge(
                amount_kes,
                msisdn,
                self.sale.description_input.text().strip(),
                sale_id=self.sale_id,
                customer_confirms_no_sms=customer_confirms_no_sms,
            )
        except (ChargeRefused, InvalidPhone, InvalidPaymentRequest) as refused:
            self.sale_mode = SaleMode.ENTRY
            self.sale.show_presentation(
                present(self.current, self.lang) if self.current else presentation.idle(self.lang)
            )
            self.sale.show_message(text("charge_refused", self.lang, reason=str(refused)), error=True)
            self.sale.amount_input.setFocus()
        else:
            newest = self.latest.get(view.attempt_id)
            if newest is not None and newest.updated_at > view.updated_at:
                view = newest
            self.latest[view.attempt_id] = view
            self.history.model.upsert(view)
            self.current = view
            self.sale_id = view.sale_id
            self._render(view)
        finally:
            self._charging = False
            self.sale.set_form_enabled(self.sale_mode == SaleMode.ENTRY)

    def _render(self, view: AttemptView) -> None:
        shown = present(view, self.lang)
        self.sale.show_presentation(shown)
        if shown.tone is Tone.PENDING:
            self.sale_mode = SaleMode.WAITING
            self.sale.set_form_enabled(False)
            if self.stack.currentWidget() is self.sale:
                self.sale.status_panel.setFocus()
        else:
            self.sale_mode = SaleMode.RESULT
            self.sale.set_form_enabled(False)
            button = self.sale.status_panel.focus_button()
            if button is not None and self.stack.currentWidget() is self.sale:
                button.setFocus()
        self.attempt_shown.emit(view.attempt_id)

    # ---- other screens --------------------------------------------------------------------------

    def show_sale(self) -> None:
        self.stack.setCurrentWidget(self.sale)
        if self.sale_mode == SaleMode.ENTRY:
            self.sale.amount_input.setFocus()
        elif self.sale_mode == SaleMode.RESULT and self.sale.status_panel.focus_button() is not None:
            self.sale.status_panel.focus_button().setFocus()  # type: ignore[union-attr]
        else:
            self.sale.status_panel.setFocus()

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
        self.report.refresh_button.setEnabled(False)
        try:
            self.report.show_report(await self.service.day_report())
        finally:
            self.report.refresh_button.setEnabled(True)
        self.report.export_button.setFocus()

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
        self.diagnostics.run_button.setEnabled(False)
        self.diagnostics.findings.show_placeholder(text("diag_running", self.lang))
        try:
            self.diagnostics.findings.show_findings(await self.service.diagnostics())
        finally:
            self.diagnostics.run_button.setEnabled(True)

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

    @asyncSlot()
    async def on_settings_clicked(self) -> None:
        if self.service is None:
            return
        button = self.nav["nav_settings"]
        button.setEnabled(False)
        try:
            dialog = SettingsDialog(self.service, self.lang, self)
            await dialog.load()
            dialog.settings_saved.connect(self._apply_settings)
            self._open_modeless(dialog)
        finally:
            button.setEnabled(True)

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

    @asyncSlot()
    async def on_language_clicked(self) -> None:
        new_lang = "en" if self.lang == "sw" else "sw"
        self.set_language(new_lang)
        if self.service is None:
            return
        button = self.nav["nav_language"]
        button.setEnabled(False)
        try:
            stored = await self.service.load_settings()
            await self.service.save_settings(dataclasses.replace(stored, language=new_lang))
        finally:
            button.setEnabled(True)

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.setWindowTitle(text("window_title", lang))
        for key, button in self.nav.items():
            button.setText(text(key, lang))
        self.sale.set_language(lang)
        self.history.set_language(lang)
        self.report.set_language(lang)
        self.diagnostics.set_language(lang)
        self.status_bar.lang = lang
        if self.current is not None and self.sale_mode in (SaleMode.WAITING, SaleMode.RESULT):
            self.sale.show_presentation(present(self.current, lang))
        elif self.sale_mode == SaleMode.ENTRY and self.sale.status_panel.presentation.tone is Tone.IDLE:
            self.sale.show_presentation(presentation.idle(lang))
        if self.status_bar.status is not None:
            self._on_status_changed(self.status_bar.status)

    # ---- keyboard and closing -------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.stack.currentWidget() is not self.sale:
            self.show_sale()
            event.accept()
            return
        super().keyPressEvent(event)

    def pending_count(self) -> int:
        return sum(1 for view in self.latest.values() if view.state in PENDING_STATES)

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
