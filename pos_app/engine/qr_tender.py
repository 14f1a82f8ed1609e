"""The QR tender: the till asks Daraja for a Dynamic QR code of the open sale's amount (docs/daraja.md §6b)
and the customer scans it and pays in the M-Pesa app. Dynamic QR has no callback of its own: the payment
reaches the relay as an ordinary C2B confirmation (§6) and this till's feed as a C2B payment.

- **Paybill** (`PB`): the QR carries the sale's reference as the account number (`RefNo`), which comes back
  as the payment's `BillRefNumber`. A payment with that reference and the sale's amount settles the sale by
  itself, through the same claim at the relay as Paid to till (one sale of the shop wins), method `qr`.
- **Till number** (Buy Goods, `BG`): whether `RefNo` comes back is unconfirmed (§6b), so nothing is
  matched on it; a payment of the sale's amount is offered, as Paid to till offers it, and the cashier
  takes it with one key.

The QR codes on screen are kept in memory while their dialog is open; a QR closed without a payment gives
the sale back, and a payment that still arrives waits in Paid to till like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pos_app.config import TillConfig
from pos_app.daraja import BUY_GOODS, DarajaClient, DarajaError, DarajaUnreachable, InvalidPaymentRequest
from pos_app.engine.errors import TillError
from pos_app.engine.paid_to_till import C2bClaimRefused, C2bOffer, PaidToTill
from pos_app.engine.relay_client import RelayClient
from pos_app.engine.states import IN_FLIGHT_STATES, Method, State
from pos_app.engine.views import AttemptView

log = logging.getLogger(__name__)

#: The side of the QR image asked of Daraja (§6b `Size`), shown pixel for pixel: large enough to scan
#: from a phone held at the counter, small enough for a 1024×600 screen.
QR_SIDE_PX = 360


class QrRefused(TillError):
    """No QR code for this sale: the sale cannot take one, or Daraja did not draw it."""


@dataclass(frozen=True)
class QrSale:
    """A QR code on screen for one sale."""

    sale_id: str
    amount_kes: int
    #: What the QR carries as `RefNo`: for a paybill the account number the payment comes back with.
    reference: str
    trx_code: str  # "PB" paybill or "BG" till number (§6b)
    number: str  # the paybill or till number (`CPI`)
    merchant_name: str
    image: bytes = field(repr=False)
    image_type: str  # "png" or "jpeg"
    request_id: str
    shown_at: datetime

    @property
    def paybill(self) -> bool:
        return self.trx_code == "PB"


def same_reference(bill_ref: str, reference: str) -> bool:
    """The account number as M-Pesa carried it back (spaces and letter case aside) is the sale's."""
    return bill_ref.strip().upper() == reference.strip().upper()


class QrTender:
    def __init__(
        self,
        *,
        daraja: DarajaClient,
        paid_to_till: PaidToTill,
        relay: Callable[[], RelayClient | None],
        config: Callable[[], TillConfig],
        now: Callable[[], datetime],
    ) -> None:
        self._daraja = daraja
        self._paid_to_till = paid_to_till
        self.store = paid_to_till.store
        self._relay = relay
        self._config = config
        self._now = now
        self._showing: dict[str, QrSale] = {}
        self._listeners: list[Callable[[str, str], None]] = []

    def showing(self, sale_id: str) -> QrSale | None:
        return self._showing.get(sale_id)

    async def show(self, sale_id: str, amount_kes: int) -> QrSale:
        """Ask Daraja for the sale's QR code and watch for its payment until `forget`. QrRefused with a
        sentence for the cashier when the sale cannot take one or Daraja did not draw it."""
        sale_key = sale_id.strip()
        trx_code, number = self._payee()
        if self._relay() is None:
            raise QrRefused("QR payments need the relay; this till has none.")
        attempts = await self.store.attempts_for_sale(sale_key)
        if any(a.state == State.PAID for a in attempts):
            raise QrRefused(f"Sale {sale_key} is already paid.")
        if any(a.state in IN_FLIGHT_STATES for a in attempts):
            raise QrRefused(f"Sale {sale_key} has a prompt waiting on a phone; let it finish or fail first.")
        merchant = self._config().shop_name.strip() or f"M-PESA {number}"
        try:
            drawn = await self._daraja.dynamic_qr(
                merchant_name=merchant,
                ref_no=sale_key,
                amount_kes=amount_kes,
                trx_code=trx_code,
                cpi=number,
                size_px=QR_SIDE_PX,
            )
        except InvalidPaymentRequest as problem:
            raise QrRefused(str(problem)) from problem
        except DarajaUnreachable as error:
            log.warning("QR code for sale %s not drawn: %s", sale_key, error)
            raise QrRefused("M-Pesa did not send the QR code; try again or take another payment.") from error
        except DarajaError as error:
            raise QrRefused(f"M-Pesa refused the QR code: {error}.") from error
        qr = QrSale(
            sale_id=sale_key,
            amount_kes=amount_kes,
            reference=sale_key,
            trx_code=trx_code,
            number=number,
            merchant_name=merchant,
            image=drawn.image,
            image_type=drawn.image_type,
            request_id=drawn.request_id,
            shown_at=self._now(),
        )
        self._showing[sale_key] = qr
        if qr.paybill:
            await self.settle_waiting()  # paid before the dialog asked (a QR shown again)
        return qr

    def forget(self, sale_id: str) -> None:
        """The QR left the screen: its sale is the cashier's again; a late payment waits in Paid to till."""
        self._showing.pop(sale_id.strip(), None)

    def _payee(self) -> tuple[str, str]:
        config = self._config()
        if config.transaction_type == BUY_GOODS:
            till = config.till_number.strip()
            if not till:
                raise QrRefused("A QR code for Buy Goods needs the till number (MPESA_TILL_NUMBER).")
            return "BG", till
        if not config.shortcode.strip():
            raise QrRefused("A QR code for a paybill needs the paybill number (MPESA_SHORTCODE).")
        return "PB", config.shortcode.strip()

    def subscribe(self, listener: Callable[[str, str], None]) -> Callable[[], None]:
        """`listener(sale_id, sentence)` when a payment made with a QR sale's reference cannot settle it
        (another sale has it), so the cashier is told instead of waiting on."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def settle_waiting(self) -> None:
        """Settle each paybill QR sale on screen whose payment has arrived: the account number is the
        sale's reference and the amount the sale's. Called after the feed brings C2B payments."""
        waiting = [qr for qr in self._showing.values() if qr.paybill]
        if not waiting:
            return
        arrived = await self.store.c2b_payments(bill_refs=[qr.reference for qr in waiting])
        for qr in waiting:
            mine = [row for row in arrived if same_reference(row.bill_ref, qr.reference)]
            match = next(
                (row for row in mine if row.claimed_by is None and row.amount_kes == qr.amount_kes), None
            )
            if match is None:
                for row in mine:
                    if row.claimed_by not in (None, qr.sale_id):
                        self._tell(
                            qr.sale_id, f"Payment {row.trans_id} is already used on sale {row.claimed_by}."
                        )
                continue
            try:
                await self._paid_to_till.claim(qr.sale_id, match.trans_id, method=Method.QR, actor="system")
            except C2bClaimRefused as refused:
                log.warning("QR sale %s: payment %s not taken: %s", qr.sale_id, match.trans_id, refused)
                self._tell(qr.sale_id, refused.message)
                continue
            log.info("QR sale %s paid by %s", qr.sale_id, match.trans_id)
            self._showing.pop(qr.sale_id, None)

    def _tell(self, sale_id: str, sentence: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(sale_id, sentence)
            except Exception:
                log.exception("a QR listener failed")

    async def offer(self, sale_id: str) -> C2bOffer | None:
        """For a till-number QR: the newest unclaimed payment of the sale's amount, to offer the cashier."""
        qr = self._showing.get(sale_id.strip())
        if qr is None:
            return None
        offers = await self._paid_to_till.unclaimed(qr.amount_kes)
        return next((offer for offer in offers if offer.matches_sale), None)

    async def take(self, sale_id: str, trans_id: str) -> AttemptView:
        """The cashier takes the offered payment for the QR sale: claimed at the relay, method `qr`."""
        view = await self._paid_to_till.claim(sale_id, trans_id, method=Method.QR)
        self._showing.pop(sale_id.strip(), None)
        return view
