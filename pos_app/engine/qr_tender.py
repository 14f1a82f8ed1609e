"""The QR tender: the till asks Daraja for a Dynamic QR code of the open sale's amount (docs/daraja.md §6b)
and the customer scans it and pays in the M-Pesa app. Dynamic QR has no callback of its own: the payment
reaches the relay as an ordinary C2B confirmation (§6) and this till's feed as a C2B payment.

- **Paybill** (`PB`): the QR carries the sale's reference as the account number (`RefNo`), which comes back
  as the payment's `BillRefNumber`. A payment with that reference and the sale's amount settles the sale by
  itself, through the same claim at the relay as Paid to till (one sale of the shop wins), method `qr`.
- **Till number** (Buy Goods, `BG`): whether `RefNo` comes back is unconfirmed (§6b), so nothing is
  matched on it; a payment of the sale's amount is offered, as Paid to till offers it, and the cashier
  takes it with one key.

A paybill QR is also kept in the store while it is open (table `open_qr_codes`, revision 0007), so a till
restarted by a crash or a power cut while the customer scans still settles the sale with the payment meant
for it, whether it arrived while the till was down or after: `resume` (called by housekeeping on start)
watches the open ones again. A QR is closed when its sale is paid (by it or any other way: cash, a prompt, a
payment to the till number), when the cashier gives it back (Esc), or when it expired; a payment that
arrives for a closed QR waits in Paid to till like any other, for the cashier or the owner. The image and
till-number QRs live in memory only: after a restart there is no dialog to show them, and a till-number
payment is only ever offered, never taken by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pos_app.config import TillConfig
from pos_app.daraja import BUY_GOODS, DarajaClient, DarajaError, DarajaUnreachable, InvalidPaymentRequest
from pos_app.engine.errors import TillError
from pos_app.engine.paid_to_till import C2bClaimRefused, C2bOffer, PaidToTill
from pos_app.engine.relay_client import RelayClient
from pos_app.engine.states import IN_FLIGHT_STATES, Method, State
from pos_app.engine.views import AttemptView
from pos_app.store.models import C2bPaymentRow, OpenQrRow, PaymentAttempt

log = logging.getLogger(__name__)

#: The side of the QR image asked of Daraja (§6b `Size`), shown pixel for pixel: large enough to scan
#: from a phone held at the counter, small enough for a 1024×600 screen.
QR_SIDE_PX = 360

#: How long after a paybill QR was shown a payment with its reference and amount still settles its sale,
#: measured on M-Pesa's own time of the payment (TransTime, the row's `paid_at`), so the time the till was
#: down does not count. References are unique per sale (`new_id`: "S" and 9 characters drawn from 32,
#: charging.py), so no other sale shares one; a payment with it made long after the QR was shown is the same
#: customer paying again (the paybill and account kept in the M-Pesa app's recent payments, a photo of the
#: code), which the owner refunds, not a sale to settle. Scanning and typing the PIN takes a minute or two
#: and a confirmation reaches the relay in seconds (docs/daraja.md §6): 15 minutes covers a slow network and
#: a customer who tries twice, and a QR forgotten on screen or left open by a crash takes nothing later.
QR_PAYMENT_WINDOW = timedelta(minutes=15)

#: How long an open QR is still watched after it was shown: a payment made inside its window may reach the
#: till only when the till is back (its feed catches up after a crash or a power cut). After a day the QR is
#: closed as expired; a payment for it still waits in Paid to till, as any payment no sale took.
QR_WATCH_LIMIT = timedelta(hours=24)

#: Why an open QR was closed (`open_qr_codes.closed_why`).
PAID_BY_QR = "paid_by_qr"
PAID_OTHERWISE = "paid_otherwise"
GIVEN_BACK = "given_back"
EXPIRED = "expired"


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
        #: The open paybill QRs whose payment settles the sale by itself, as stored (shown here, or found
        #: open on start): the working set, kept in step with the store's open rows.
        self._watching: dict[str, OpenQrRow] = {}
        self._listeners: list[Callable[[str, str], None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        paid_to_till.ledger.subscribe(self._attempt_changed)

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
            watched = OpenQrRow(
                sale_id=sale_key,
                amount_kes=amount_kes,
                reference=qr.reference,
                request_id=qr.request_id,
                shown_at=qr.shown_at,
            )
            # Stored before the customer can scan it: a crash from here on leaves it open for `resume`.
            await self.store.open_qr(watched)
            self._watching[sale_key] = watched
            await self.settle_waiting()  # paid before the dialog asked (a QR shown again)
        return qr

    def forget(self, sale_id: str) -> None:
        """The QR left the screen: its sale is the cashier's again; a late payment waits in Paid to till.
        Dropped from the watched set at once (a payment arriving now is not taken); the store's row is closed
        just after, as given back unless the sale was paid (the dialog closes on the payment too)."""
        sale_key = sale_id.strip()
        self._showing.pop(sale_key, None)
        if self._watching.pop(sale_key, None) is not None:
            self._close_soon(sale_key, GIVEN_BACK)

    async def resume(self) -> None:
        """On start: watch again the paybill QRs left open when the till stopped (a crash, a power cut), and
        settle those whose payment is already here; the feed brings the rest. Those whose sale was paid
        meanwhile, or that are past `QR_WATCH_LIMIT`, are closed instead."""
        now = self._now()
        for row in await self.store.qr_codes(open_only=True):
            if now - row.shown_at > QR_WATCH_LIMIT:
                await self._close(row.sale_id, EXPIRED)
                continue
            paid = await self._paid_attempt(row.sale_id)
            if paid is not None:
                await self._close(row.sale_id, _why_paid(paid))
                continue
            log.info(
                "QR of sale %s (KES %s) open since %s: watching for its payment",
                row.sale_id,
                row.amount_kes,
                row.shown_at,
            )
            self._watching[row.sale_id] = row
        await self.settle_waiting()

    async def close(self) -> None:
        """Finish closing the QRs given back or paid just now (before the store closes)."""
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _attempt_changed(self, view: AttemptView) -> None:
        """The ledger announced a change: a watched QR's sale paid any way closes the QR."""
        if view.state == State.PAID and self._watching.pop(view.sale_id, None) is not None:
            self._close_soon(view.sale_id, PAID_BY_QR if view.method == Method.QR else PAID_OTHERWISE)

    def _close_soon(self, sale_id: str, why: str) -> None:
        task = asyncio.get_running_loop().create_task(self._close_checked(sale_id, why))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_checked(self, sale_id: str, why: str) -> None:
        try:
            paid = await self._paid_attempt(sale_id)
            await self._close(sale_id, _why_paid(paid) if paid is not None else why)
        except Exception:
            # The row stays open: the next start finds the sale paid and closes it, or watches it again.
            log.exception("QR of sale %s not closed", sale_id)

    async def _close(self, sale_id: str, why: str) -> None:
        self._watching.pop(sale_id, None)
        if await self.store.close_qr(sale_id, why, self._now()):
            log.info("QR of sale %s closed: %s", sale_id, why)

    async def _paid_attempt(self, sale_id: str) -> PaymentAttempt | None:
        return next((a for a in await self.store.attempts_for_sale(sale_id) if a.state == State.PAID), None)

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
        (another sale has it, or it came after `QR_PAYMENT_WINDOW`), so the cashier is told instead of
        waiting on."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def settle_waiting(self) -> None:
        """Settle each watched paybill QR sale whose payment has arrived: the account number is the sale's
        reference, the amount the sale's, and M-Pesa took it within `QR_PAYMENT_WINDOW` of the QR being
        shown. Called after the feed or Pull Transactions bring C2B payments, and on start."""
        now = self._now()
        for qr in list(self._watching.values()):
            if now - qr.shown_at > QR_WATCH_LIMIT:
                await self._close(qr.sale_id, EXPIRED)
        waiting = list(self._watching.values())
        if not waiting:
            return
        arrived = await self.store.c2b_payments(bill_refs=[qr.reference for qr in waiting])
        for qr in waiting:
            mine = [row for row in arrived if same_reference(row.bill_ref, qr.reference)]
            if not mine or qr.sale_id not in self._watching:
                continue
            paid = await self._paid_attempt(qr.sale_id)
            if paid is not None:  # paid another way (or by this QR before a crash): nothing more to take
                await self._close(qr.sale_id, _why_paid(paid))
                continue
            match = next((row for row in mine if _settles(row, qr)), None)
            if match is None:
                self._tell_why_not(qr, mine)
                continue
            try:
                await self._paid_to_till.claim(qr.sale_id, match.trans_id, method=Method.QR, actor="system")
            except C2bClaimRefused as refused:
                log.warning("QR sale %s: payment %s not taken: %s", qr.sale_id, match.trans_id, refused)
                self._tell(qr.sale_id, refused.message)
                continue
            log.info("QR sale %s paid by %s", qr.sale_id, match.trans_id)
            self._showing.pop(qr.sale_id, None)
            await self._close(qr.sale_id, PAID_BY_QR)

    def _tell_why_not(self, qr: OpenQrRow, mine: list[C2bPaymentRow]) -> None:
        for row in mine:
            if row.claimed_by not in (None, qr.sale_id):
                self._tell(qr.sale_id, f"Payment {row.trans_id} is already used on sale {row.claimed_by}.")
            elif row.amount_kes == qr.amount_kes and row.claimed_by is None:
                self._tell(
                    qr.sale_id,
                    f"Payment {row.trans_id} came too late for this QR code; it waits in Paid to till.",
                )

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


def _settles(row: C2bPaymentRow, qr: OpenQrRow) -> bool:
    """The payment settles the QR's sale: its amount, in time, and no other sale's (a claim this sale made
    before a crash, answered by the relay but not yet stored as the sale's payment, is taken again: the
    relay gives the same sale its payment back, and the till then stores it once)."""
    return (
        row.amount_kes == qr.amount_kes
        and row.claimed_by in (None, qr.sale_id)
        and row.paid_at <= qr.shown_at + QR_PAYMENT_WINDOW
    )


def _why_paid(paid: PaymentAttempt) -> str:
    return PAID_BY_QR if paid.method == Method.QR else PAID_OTHERWISE
