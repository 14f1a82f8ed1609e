"""What the dialogs that pay the sale on the screen share (paid to till, pay by QR): the sale they are for,
`claimed` once it is paid, and an end when they close, by Esc or paid: the engine's announcements stop
reaching them, and an answer that comes late finds `_open` false instead of touching deleted widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QWidget

from pos_app.ui.formatting import kes
from pos_app.ui.strings import text

if TYPE_CHECKING:
    from collections.abc import Callable

    from pos_app.engine.paid_to_till import C2bOffer
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView


class TenderDialog(QDialog):
    claimed = Signal(object)  # AttemptView: the sale, paid

    def __init__(self, service: TillService, sale_id: str, lang: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.service = service
        self.sale_id = sale_id
        self.lang = lang
        self._open = True
        self._unsubscribers: list[Callable[[], None]] = []
        self.finished.connect(self._closed)

    def _listen(self, unsubscribe: Callable[[], None]) -> None:
        """Keep a subscription's `unsubscribe` until the dialog closes."""
        self._unsubscribers.append(unsubscribe)

    def _closed(self, _result: int) -> None:
        self._open = False
        for unsubscribe in self._unsubscribers:
            unsubscribe()

    def _paid(self, view: AttemptView) -> None:
        self.claimed.emit(view)
        self.accept()


def offer_sentence(offer: C2bOffer, lang: str) -> str:
    """A payment to the till number offered for the sale: its amount, who paid, and Enter to take it."""
    return text(
        "c2b_offer", lang, amount=kes(offer.amount_kes), name=offer.first_name, phone=offer.phone_display
    )
