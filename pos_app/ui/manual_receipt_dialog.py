"""The owner types a receipt code from the customer's SMS; the engine checks it and says verified or not."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from pos_app.engine.errors import WrongPin
from pos_app.ui.busy import busy
from pos_app.ui.formatting import kes, local_time, masked_phone
from pos_app.ui.naming import named
from pos_app.ui.presentation import status_word
from pos_app.ui.strings import engine_text, text

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView, ManualReceiptResult

RECEIPT_PATTERN = re.compile(r"[A-Z0-9]{10}")


class ManualReceiptDialog(QDialog):
    receipt_recorded = Signal(object)  # ManualReceiptResult

    def __init__(self, service: TillService, attempt: AttemptView, lang: str, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "manualReceiptDialog")
        self.service = service
        self.attempt = attempt
        self.lang = lang
        self.recorded: ManualReceiptResult | None = None
        self.setWindowTitle(text("manual_title", lang))
        self.for_label = QLabel(self._header(attempt))
        self.for_label.setWordWrap(True)
        self.receipt_input = QLineEdit()
        named(self.receipt_input, "manualReceiptInput")
        self.receipt_input.setMaxLength(10)
        self.receipt_input.setValidator(
            QRegularExpressionValidator(QRegularExpression(r"[A-Za-z0-9]{0,10}"), self)
        )
        self.receipt_input.textEdited.connect(self._upper)
        # Ten of the widest characters and the frame: a typed code is never clipped.
        self.receipt_input.setMinimumWidth(self.receipt_input.fontMetrics().horizontalAdvance("W" * 11) + 24)
        self.pin_input = QLineEdit()
        named(self.pin_input, "manualPinInput")
        self.pin_input.setEchoMode(QLineEdit.EchoMode.Password)
        self.result_label = QLabel()
        named(self.result_label, "manualResult")
        self.result_label.setWordWrap(True)
        self.submit_button = QPushButton(text("manual_submit", lang))
        self.submit_button.setObjectName("manualSubmit")
        self.submit_button.setDefault(True)
        self.submit_button.clicked.connect(self.on_submit_clicked)
        self.close_button = QPushButton(text("manual_close", lang))
        self.close_button.setObjectName("manualClose")
        self.close_button.clicked.connect(self.accept)

        form = QFormLayout()
        form.addRow(text("manual_receipt", lang), self.receipt_input)
        form.addRow(text("manual_pin", lang), self.pin_input)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.submit_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.for_label)
        layout.addLayout(form)
        layout.addWidget(self.result_label)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

    def _header(self, attempt: AttemptView) -> str:
        return text(
            "manual_for",
            self.lang,
            amount=kes(attempt.amount_kes),
            phone=masked_phone(attempt.phone),
            time=local_time(attempt.created_at),
            state=status_word(attempt, self.lang),
        )

    def _upper(self, typed: str) -> None:
        if typed != typed.upper():
            position = self.receipt_input.cursorPosition()
            self.receipt_input.setText(typed.upper())
            self.receipt_input.setCursorPosition(position)

    def _show(self, message: str, tone: str) -> None:
        self.result_label.setText(message)
        self.result_label.setProperty("tone", tone)
        self.result_label.style().unpolish(self.result_label)
        self.result_label.style().polish(self.result_label)

    def _refused(self, refusal: Exception) -> None:
        if isinstance(refusal, WrongPin):
            # The engine's sentence already names the PIN ("Wrong owner PIN.", "No owner PIN is set yet…").
            self._show(engine_text(str(refusal), self.lang), "failed")
            self.pin_input.clear()
            self.pin_input.setFocus()
        else:
            self._show(
                text("manual_refused", self.lang, reason=engine_text(str(refusal), self.lang)), "failed"
            )

    @asyncSlot()
    async def on_submit_clicked(self) -> None:
        if self.recorded is not None:  # already recorded: Enter now closes
            self.accept()
            return
        receipt = self.receipt_input.text().strip().upper()
        if not RECEIPT_PATTERN.fullmatch(receipt):
            self._show(text("manual_bad_code", self.lang), "failed")
            return
        result = await busy(
            self.service.enter_manual_receipt(self.attempt.attempt_id, receipt, self.pin_input.text()),
            self.submit_button,
            refused=self._refused,
        )
        if result is None:
            return
        self.recorded = result
        key = "manual_verified" if result.verified else "manual_unverified"
        reason = engine_text(result.reason, self.lang)
        self._show(text(key, self.lang, reason=reason), "paid" if result.verified else "unknown")
        self.for_label.setText(self._header(result.attempt))  # the state it has now, not the one it had
        # One Close: the submit button becomes it (Enter closes), the other one goes.
        self.close_button.hide()
        self.submit_button.setText(text("manual_close", self.lang))
        self.receipt_input.setReadOnly(True)
        self.pin_input.setReadOnly(True)
        self.receipt_recorded.emit(result)
