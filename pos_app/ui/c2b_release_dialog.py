"""The owner gives back a payment to the till number that a sale took by mistake (History, Alt+G): the
owner PIN, then the relay frees the payment for another sale and this sale is no longer paid by it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
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
from pos_app.ui.formatting import kes
from pos_app.ui.naming import named
from pos_app.ui.strings import engine_text, text

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView


class C2bReleaseDialog(QDialog):
    released = Signal(object)  # AttemptView: the sale, now unpaid

    def __init__(self, service: TillService, attempt: AttemptView, lang: str, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "c2bReleaseDialog")
        self.service = service
        self.attempt = attempt
        self.lang = lang
        self.done_ = False
        self.setWindowTitle(text("release_title", lang))
        self.for_label = QLabel(
            text(
                "release_for",
                lang,
                receipt=attempt.receipt or "",
                amount=kes(attempt.amount_kes),
                sale=attempt.sale_id,
            )
        )
        self.for_label.setWordWrap(True)
        self.pin_input = QLineEdit()
        named(self.pin_input, "releasePinInput")
        self.pin_input.setEchoMode(QLineEdit.EchoMode.Password)
        self.result_label = QLabel()
        named(self.result_label, "releaseResult")
        self.result_label.setWordWrap(True)
        self.submit_button = QPushButton(text("release_submit", lang))
        self.submit_button.setObjectName("releaseSubmit")
        self.submit_button.setDefault(True)
        self.submit_button.clicked.connect(self.on_submit_clicked)
        self.close_button = QPushButton(text("manual_close", lang))
        self.close_button.setObjectName("releaseClose")
        self.close_button.clicked.connect(self.reject)
        form = QFormLayout()
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

    def _show(self, message: str, tone: str) -> None:
        self.result_label.setText(message)
        self.result_label.setProperty("tone", tone)
        self.result_label.style().unpolish(self.result_label)
        self.result_label.style().polish(self.result_label)

    def _refused(self, refusal: Exception) -> None:
        self._show(text("manual_refused", self.lang, reason=engine_text(str(refusal), self.lang)), "failed")
        if isinstance(refusal, WrongPin):
            self.pin_input.clear()
            self.pin_input.setFocus()

    @asyncSlot()
    async def on_submit_clicked(self) -> None:
        if self.done_:  # released already: Enter now closes
            self.accept()
            return
        receipt = self.attempt.receipt or ""
        result = await busy(
            self.service.c2b.release(receipt, self.pin_input.text()),
            self.submit_button,
            refused=self._refused,
        )
        if result is None:  # refused (shown by _refused)
            return
        self.done_ = True
        self._show(text("release_done", self.lang, receipt=receipt), "paid")
        self.close_button.hide()
        self.submit_button.setText(text("manual_close", self.lang))
        self.pin_input.setReadOnly(True)
        self.released.emit(result)
