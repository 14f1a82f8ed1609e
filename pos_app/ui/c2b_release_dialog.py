"""The owner gives back a payment to the till number that a sale took by mistake (History, Alt+G): the
owner PIN, then the relay frees the payment for another sale and this sale is no longer paid by it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from pos_app.ui.busy import busy
from pos_app.ui.formatting import kes
from pos_app.ui.naming import named
from pos_app.ui.owner_pin import OwnerPinDialog
from pos_app.ui.strings import text

if TYPE_CHECKING:
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView


class C2bReleaseDialog(OwnerPinDialog):
    released = Signal(object)  # AttemptView: the sale, now unpaid

    def __init__(self, service: TillService, attempt: AttemptView, lang: str, parent: QWidget | None = None):
        super().__init__(
            service,
            attempt,
            lang,
            parent,
            prefix="release",
            title_key="release_title",
            submit_key="release_submit",
        )
        named(self, "c2bReleaseDialog")
        self.for_label.setText(
            text(
                "release_for",
                lang,
                receipt=attempt.receipt or "",
                amount=kes(attempt.amount_kes),
                sale=attempt.sale_id,
            )
        )
        self.close_button.clicked.connect(self.reject)
        self._lay_out()

    async def _submit(self) -> None:
        receipt = self.attempt.receipt or ""
        result = await busy(
            self.service.c2b.release(receipt, self.pin_input.text()),
            self.submit_button,
            refused=self._refused,
        )
        if result is None:  # refused (shown by _refused)
            return
        self._finish(text("release_done", self.lang, receipt=receipt), "paid")
        self.released.emit(result)
