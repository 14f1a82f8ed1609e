"""Paid to till: the payments made to the shop's till number that no sale has taken, live, for the sale on
the screen. The one of the sale's amount is offered first with the focus on it; the arrows pick another;
Enter settles the sale with it (the engine claims it at the relay); Esc closes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget
from qasync import asyncSlot

from pos_app.ui.busy import busy
from pos_app.ui.formatting import kes
from pos_app.ui.naming import named
from pos_app.ui.strings import engine_text, text
from pos_app.ui.tender_dialog import TenderDialog, offer_sentence

if TYPE_CHECKING:
    from pos_app.engine.paid_to_till import C2bOffer
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView


class PaidToTillDialog(TenderDialog):
    def __init__(
        self,
        service: TillService,
        sale_id: str,
        amount_kes: int | None,
        lang: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(service, sale_id, lang, parent)
        named(self, "paidToTillDialog")
        self.amount_kes = amount_kes
        self.offers: list[C2bOffer] = []
        self._reads = 0  # refreshes started: an older read that answers late is not shown over a newer one
        self.setWindowTitle(text("c2b_title", lang))
        self.offer_label = QLabel()
        named(self.offer_label, "c2bOffer")
        self.offer_label.setWordWrap(True)
        self.list = QListWidget()
        named(self.list, "c2bList")
        self.list.itemActivated.connect(lambda _item: self.on_claim())
        self.message = QLabel()
        named(self.message, "c2bMessage")
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.offer_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.message)
        self.setMinimumSize(560, 320)
        self._listen(service.paid_to_till.subscribe(self.refresh))

    def _row(self, offer: C2bOffer, now: datetime) -> str:
        minutes = offer.minutes_ago(now)
        ago = text("ago_now", self.lang) if minutes < 1 else text("ago_min", self.lang, n=minutes)
        return text(
            "c2b_row",
            self.lang,
            amount=kes(offer.amount_kes),
            name=offer.first_name,
            phone=offer.phone_display,
            ago=ago,
        )

    @asyncSlot()
    async def refresh(self) -> None:
        """Read the unclaimed payments again (on opening, and whenever the feed brings a change)."""
        self._reads += 1
        read = self._reads
        offers = await self.service.c2b_offers(self.amount_kes)
        if read != self._reads or not self._open:
            return
        self.offers = offers
        chosen = self.list.currentItem()
        keep = chosen.data(Qt.ItemDataRole.UserRole) if chosen is not None else None
        now = datetime.now(UTC)
        self.list.clear()
        for offer in self.offers:
            item = QListWidgetItem(self._row(offer, now))
            item.setData(Qt.ItemDataRole.UserRole, offer.trans_id)
            self.list.addItem(item)
        ids = [offer.trans_id for offer in self.offers]
        if self.offers:
            self.list.setCurrentRow(ids.index(keep) if keep in ids else 0)
            self.list.setFocus()
        first = self.offers[0] if self.offers else None
        if first is not None and first.matches_sale:
            self.offer_label.setText(offer_sentence(first, self.lang))
        else:
            self.offer_label.setText(text("c2b_pick" if self.offers else "c2b_none", self.lang))

    def _refused(self, refusal: Exception) -> None:
        self.message.setText(text("c2b_refused", self.lang, reason=engine_text(str(refusal), self.lang)))
        self.refresh()

    @asyncSlot()
    async def on_claim(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        trans_id = str(item.data(Qt.ItemDataRole.UserRole))
        view: AttemptView | None = await busy(
            self.service.claim_c2b(self.sale_id, trans_id), self.list, refused=self._refused
        )
        if view is None or not self._open:  # closed meanwhile: History shows the paid sale
            return
        self._paid(view)
