"""The owner types a receipt code from the customer's SMS; the engine checks it and says verified or not."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from pos_app.engine.errors import WrongPin
from pos_app.ui.busy import busy
from pos_app.ui.formatting import kes, local_time, masked_phone
from pos_app.ui.inputs import ReceiptCodeInput
from pos_app.ui.naming import named
from pos_app.ui.owner_pin import OwnerPinDialog
from pos_app.ui.presentation import status_word
from pos_app.ui.strings import engine_text, text

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView, ManualReceiptResult

RECEIPT_PATTERN = re.compile(r"[A-Z0-9]{10}")


class ManualReceiptDialog(OwnerPinDialog):
    receipt_recorded = Signal(object)  # ManualReceiptResult

    def __init__(self, service: TillService, attempt: AttemptView, lang: str, parent: QWidget | None = None):
        super().__init__(
            service,
            attempt,
            lang,
            parent,
            prefix="manual",
            title_key="manual_title",
            submit_key="manual_submit",
        )
        named(self, "manualReceiptDialog")
        self.recorded: ManualReceiptResult | None = None
        self.for_label.setText(self._header(attempt))
        self.receipt_input = ReceiptCodeInput()
        named(self.receipt_input, "manualReceiptInput")
        self.close_button.clicked.connect(self.accept)
        self._lay_out((text("manual_receipt", lang), self.receipt_input))

    def _header(self, attempt: AttemptView) -> str:
        return text(
            "manual_for",
            self.lang,
            amount=kes(attempt.amount_kes),
            phone=masked_phone(attempt.phone),
            time=local_time(attempt.created_at),
            state=status_word(attempt, self.lang),
        )

    def _refusal_sentence(self, refusal: Exception) -> str:
        if isinstance(refusal, WrongPin):
            # The engine's sentence already names the PIN ("Wrong owner PIN.", "No owner PIN is set yet…").
            return engine_text(str(refusal), self.lang)
        return super()._refusal_sentence(refusal)

    async def _submit(self) -> None:
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
        self.for_label.setText(self._header(result.attempt))  # the state it has now, not the one it had
        self.receipt_input.setReadOnly(True)
        key = "manual_verified" if result.verified else "manual_unverified"
        reason = engine_text(result.reason, self.lang)
        self._finish(text(key, self.lang, reason=reason), "paid" if result.verified else "unknown")
        self.receipt_recorded.emit(result)
