"""The cashier checks the customer's M-Pesa message: type the receipt code from the SMS, Enter, and read
one plain sentence: genuine and free (green), already used by a sale (amber), or not received, so do not
hand over the goods (red). Esc closes. Another code can be typed over the last one at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget
from qasync import asyncSlot

from pos_app.ui.busy import busy
from pos_app.ui.inputs import ReceiptCodeInput
from pos_app.ui.message_check_words import TONES, sentence
from pos_app.ui.naming import named
from pos_app.ui.strings import engine_text, text
from pos_app.ui.styling import say

if TYPE_CHECKING:
    from pos_app.engine.service import TillService


class MessageCheckDialog(QDialog):
    def __init__(self, service: TillService, lang: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        named(self, "messageCheckDialog")
        self.service = service
        self.lang = lang
        self.setWindowTitle(text("check_title", lang))
        prompt = QLabel(text("check_prompt", lang))
        prompt.setWordWrap(True)
        self.code_input = ReceiptCodeInput()
        named(self.code_input, "checkCodeInput")
        self.code_input.setPlaceholderText("TK3MX6CLYC")
        self.result_label = QLabel()
        named(self.result_label, "checkResult")
        self.result_label.setWordWrap(True)
        self.check_button = QPushButton(text("check_button", lang))
        named(self.check_button, "checkButton")
        self.check_button.setDefault(True)  # Enter in the code box checks
        self.check_button.clicked.connect(self.on_check_clicked)
        close_button = QPushButton(text("check_close", lang))
        named(close_button, "checkClose")
        close_button.setAutoDefault(False)
        close_button.clicked.connect(self.reject)  # as Esc

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        buttons.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.code_input)
        layout.addWidget(self.result_label)
        layout.addLayout(buttons)
        self.setMinimumWidth(560)
        self.code_input.setFocus()

    def _show(self, message: str, tone: str) -> None:
        say(self.result_label, message, tone)
        # A longer answer wraps onto more lines: the dialog grows to show all of it (never cut off).
        self.adjustSize()

    def _refused(self, refusal: Exception) -> None:
        self._show(engine_text(str(refusal), self.lang), "unknown")

    @asyncSlot()
    async def on_check_clicked(self) -> None:
        self._show("", "")
        answer = await busy(
            self.service.check_message(self.code_input.text()),
            self.check_button,
            self.code_input,
            refused=self._refused,
        )
        if answer is not None:
            self._show(sentence(answer, self.lang), TONES[answer.verdict])
        # Ready for the next code: typing replaces this one.
        self.code_input.setFocus()
        self.code_input.selectAll()
