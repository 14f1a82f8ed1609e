"""Pay by QR: the sale's M-Pesa QR code, large enough to scan from the customer's phone, with the amount and
"Scan with M-Pesa", and the payment's status live. A paybill QR's payment settles the sale by itself and the
dialog closes with it paid; on a till number the payment of the sale's amount is offered and Enter takes it
(pos_app/engine/qr_tender.py). Esc gives the sale back at any moment, even while M-Pesa draws the code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget
from qasync import asyncSlot

from pos_app.engine.qr_tender import QR_SIDE_PX
from pos_app.engine.states import State
from pos_app.ui.busy import busy
from pos_app.ui.formatting import kes
from pos_app.ui.naming import named
from pos_app.ui.shortcuts import DEMO_CUSTOMER_KEY
from pos_app.ui.strings import engine_text, text
from pos_app.ui.tender_dialog import TenderDialog, offer_sentence

if TYPE_CHECKING:
    from pos_app.engine.paid_to_till import C2bOffer
    from pos_app.engine.qr_tender import QrSale
    from pos_app.engine.service import TillService
    from pos_app.engine.views import AttemptView


class QrDialog(TenderDialog):
    def __init__(
        self, service: TillService, sale_id: str, amount_kes: int, lang: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(service, sale_id, lang, parent)
        named(self, "qrDialog")
        self.amount_kes = amount_kes
        self.qr: QrSale | None = None
        self.offer: C2bOffer | None = None
        self.setWindowTitle(text("qr_title", lang))

        self.image = QLabel()
        named(self.image, "qrImage")
        # The code's own pixels, never smoothed: a scanner wants sharp modules on a white quiet zone.
        self.image.setFixedSize(QR_SIDE_PX, QR_SIDE_PX)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.amount = QLabel(f"KES {kes(amount_kes)}")
        named(self.amount, "qrAmount")
        self.scan = QLabel(text("qr_scan", lang))
        named(self.scan, "qrScan")
        self.payee = QLabel()
        named(self.payee, "qrPayee")
        self.payee.setWordWrap(True)
        self.status = QLabel(text("qr_asking", lang))
        named(self.status, "qrStatus")
        self.status.setWordWrap(True)
        demo = service.config.demo
        hint = QLabel(text("qr_hint_demo" if demo else "qr_hint", lang, shortcut=DEMO_CUSTOMER_KEY))
        named(hint, "qrHint")
        hint.setWordWrap(True)
        if demo:  # no phone in demo mode: a simulated customer scans the code and pays
            QShortcut(QKeySequence(DEMO_CUSTOMER_KEY), self, self.on_demo_scan)

        column = QVBoxLayout()
        for label in (self.amount, self.scan, self.payee, self.status):
            column.addWidget(label)
        column.addStretch(1)
        column.addWidget(hint)
        layout = QHBoxLayout(self)
        layout.addWidget(self.image)
        layout.addLayout(column, 1)
        self.setFixedWidth(QR_SIDE_PX + 360)
        # Nothing in it takes typing: the dialog itself has the keyboard (Enter takes an offer, Esc closes).
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self._listen(service.subscribe(self._attempt_changed))
        self._listen(service.qr.subscribe(self._not_settled))

    def _closed(self, result: int) -> None:
        super()._closed(result)
        self.service.qr.forget(self.sale_id)  # Esc, or paid: the QR is off the screen

    @asyncSlot()
    async def load(self) -> None:
        """Ask M-Pesa for the sale's QR code and show it."""
        # No control to disable: Esc must close the dialog at any moment, and the widgets may be gone
        # by the time M-Pesa answers.
        qr = await busy(self.service.qr.show(self.sale_id, self.amount_kes), refused=self._refused)
        if qr is None:
            return
        if not self._open:  # Esc while M-Pesa was drawing it: the sale was given back already
            self.service.qr.forget(self.sale_id)
            return
        self.qr = qr
        pixmap = QPixmap()
        pixmap.loadFromData(qr.image)
        if pixmap.width() != QR_SIDE_PX:  # Daraja may draw another size than asked (§6b): keep modules sharp
            pixmap = pixmap.scaled(
                QR_SIDE_PX,
                QR_SIDE_PX,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
        self.image.setPixmap(pixmap)
        words = "qr_paybill" if qr.paybill else "qr_till"
        self.payee.setText(text(words, self.lang, number=qr.number, reference=qr.reference))
        self.status.setText(text("qr_waiting", self.lang))
        if not qr.paybill:
            self._listen(self.service.paid_to_till.subscribe(self.refresh_offer))
            self.refresh_offer()

    def _refused(self, refusal: Exception) -> None:
        if self._open:
            self.status.setText(text("qr_refused", self.lang, reason=engine_text(str(refusal), self.lang)))

    def _not_settled(self, sale_id: str, sentence: str) -> None:
        """The QR's payment arrived but another sale has it: say so rather than wait on."""
        if self._open and sale_id == self.sale_id:
            self.status.setText(text("qr_not_taken", self.lang, reason=engine_text(sentence, self.lang)))

    def _attempt_changed(self, view: AttemptView) -> None:
        if self._open and view.sale_id == self.sale_id and view.state == State.PAID:
            self._paid(view)

    @asyncSlot()
    async def refresh_offer(self) -> None:
        """Till number: the payment of the sale's amount, offered (on opening and as the feed brings one)."""
        offer = await self.service.qr.offer(self.sale_id)
        if not self._open:
            return
        self.offer = offer
        if offer is None:
            self.status.setText(text("qr_waiting", self.lang))
            return
        self.status.setText(offer_sentence(offer, self.lang))

    @asyncSlot()
    async def on_demo_scan(self) -> None:
        if self.qr is not None:
            await busy(
                self.service.demo_customer_pays(0, qr_request_id=self.qr.request_id), refused=self._refused
            )

    @asyncSlot()
    async def take_offer(self) -> None:
        if self.offer is None:
            return
        view = await busy(self.service.qr.take(self.sale_id, self.offer.trans_id), refused=self._not_taken)
        if view is not None and self._open:  # paid: the announcement closes the dialog, this is the backstop
            self._attempt_changed(view)

    def _not_taken(self, refusal: Exception) -> None:
        if self._open:
            # The offer is stale (another till took it); the feed's next change offers again.
            self.offer = None
            self.status.setText(text("qr_not_taken", self.lang, reason=engine_text(str(refusal), self.lang)))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.take_offer()
            return
        super().keyPressEvent(event)  # Esc rejects: the sale is the cashier's again
