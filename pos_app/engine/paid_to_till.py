"""Paid to till: a customer pays the shop's till or paybill number directly (C2B, docs/daraja.md §6)
instead of answering a prompt. The relay's feed carries each such payment to every till of the shop; this
till keeps them (one row per TransID), offers the unclaimed ones for the open sale (the one of the sale's
amount first), and claims one at the relay, which lets one sale of the shop have it. A claimed payment
settles the sale as paid, method `c2b`, with the TransID as its receipt, stored and audited before it is
announced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from daraja_core.contract import C2bPayment, parse_wire_time
from daraja_core.phones import format_local_masked
from pos_app.engine.charging import new_id
from pos_app.engine.errors import TillError
from pos_app.engine.ledger import Ledger
from pos_app.engine.relay_client import C2bTaken, RelayClient, RelayError
from pos_app.engine.states import Method, State
from pos_app.engine.views import AttemptView, view_of
from pos_app.store.models import C2bPaymentRow, PaymentAttempt, Sale

log = logging.getLogger(__name__)


class C2bClaimRefused(TillError):
    """A C2B payment cannot settle this sale: another sale has it, the relay does not know it, the sale is
    paid already, or the relay cannot be asked."""


@dataclass(frozen=True)
class C2bOffer:
    """An unclaimed C2B payment as the cashier sees it."""

    trans_id: str
    amount_kes: int
    first_name: str
    phone: str  # masked by the relay, "" when Safaricom sent only a digest
    paid_at: datetime
    #: Its amount is the sale's: offered first.
    matches_sale: bool

    @property
    def phone_display(self) -> str:
        """`2547*****126` as the cashier reads it: `07** *** 126`."""
        return format_local_masked(self.phone)

    def minutes_ago(self, now: datetime) -> int:
        return max(0, int((now - self.paid_at).total_seconds() // 60))


def row_of(payment: C2bPayment, now: datetime) -> C2bPaymentRow:
    return C2bPaymentRow(
        trans_id=payment.trans_id,
        amount_kes=payment.amount_kes,
        first_name=payment.first_name,
        phone=payment.phone,
        bill_ref=payment.bill_ref,
        shortcode=payment.shortcode,
        paid_at=payment.paid_time or now,
        received_at=parse_wire_time(payment.received_at) or now,
        claimed_by=payment.claimed_by,
        updated_at=now,
    )


Listener = Callable[[], None]


class PaidToTill:
    def __init__(
        self,
        *,
        ledger: Ledger,
        relay: Callable[[], RelayClient | None],
        now: Callable[[], datetime],
        demo: bool = False,
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self._relay = relay
        self._now = now
        self._demo = demo
        self._listeners: list[Listener] = []
        self._claiming = asyncio.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """`listener()` after C2B payments from the feed are stored (a new one, or one claimed elsewhere)."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def keep(self, payments: list[C2bPayment]) -> None:
        """Store the feed's C2B payments (the reconciler's feed loop calls this), then tell listeners."""
        now = self._now()
        await self.store.put_c2b_payments([row_of(payment, now) for payment in payments])
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("a C2B listener failed")

    async def unclaimed(self, amount_kes: int | None = None) -> list[C2bOffer]:
        """The shop's unclaimed C2B payments, those of `amount_kes` (the open sale's) first, newest first."""
        offers = [
            C2bOffer(
                trans_id=row.trans_id,
                amount_kes=row.amount_kes,
                first_name=row.first_name,
                phone=row.phone,
                paid_at=row.paid_at,
                matches_sale=amount_kes is not None and row.amount_kes == amount_kes,
            )
            for row in await self.store.c2b_payments(unclaimed_only=True)
        ]
        return sorted(offers, key=lambda offer: not offer.matches_sale)  # stable: newest first within

    async def claim(
        self, sale_id: str, trans_id: str, *, method: Method = Method.C2B, actor: str = "cashier"
    ) -> AttemptView:
        """Claim the C2B payment `trans_id` at the relay for `sale_id`, then settle the sale paid with it
        (`method` says the tender: paid to till, or the sale's QR code). Claiming again for the same sale
        returns its payment. C2bClaimRefused with a sentence otherwise."""
        code = trans_id.strip().upper()
        sale_key = sale_id.strip()
        async with self._claiming:
            holder = await self.store.attempt_with_receipt(code)
            if holder is not None:
                if holder.sale_id == sale_key:
                    return view_of(holder)
                raise C2bClaimRefused(f"Payment {code} is already used on sale {holder.sale_id}.")
            attempts = await self.store.attempts_for_sale(sale_key)
            if any(a.state == State.PAID for a in attempts):
                raise C2bClaimRefused(f"Sale {sale_key} is already paid.")
            if any(a.state in (State.CREATED, State.PROMPT_SENT) for a in attempts):
                raise C2bClaimRefused(
                    f"Sale {sale_key} has a prompt waiting on a phone; let it finish or fail first."
                )
            payment = await self._claim_at_relay(sale_key, code)
            return await self._settle(
                sale_key, payment, sale_exists=bool(attempts) or None, method=method, actor=actor
            )

    async def _claim_at_relay(self, sale_id: str, code: str) -> C2bPayment:
        relay = self._relay()
        if relay is None:
            raise C2bClaimRefused("Payments to the till number need the relay; this till has none.")
        known = await self.store.get_c2b_payment(code)
        try:
            payment = await relay.claim_c2b(code, sale_id)
        except C2bTaken as taken:
            if known is not None:
                await self.store.put_c2b_payments(
                    [known.model_copy(update={"claimed_by": taken.claimed_by, "updated_at": self._now()})]
                )
            what = f"KES {known.amount_kes} from {known.first_name} ({code})" if known else f"Payment {code}"
            raise C2bClaimRefused(f"{what} is already taken by sale {taken.claimed_by}.") from taken
        except RelayError as error:
            raise C2bClaimRefused(f"The relay could not be asked to claim {code}: {error}.") from error
        if payment is None:
            raise C2bClaimRefused(f"The relay has no payment {code} to this shop.")
        await self.store.put_c2b_payments([row_of(payment, self._now())])
        return payment

    async def _settle(
        self, sale_id: str, payment: C2bPayment, *, sale_exists: bool | None, method: Method, actor: str
    ) -> AttemptView:
        now = self._now()
        sale = None
        if not sale_exists and await self.store.get_sale(sale_id) is None:
            sale = Sale(id=sale_id, created_at=now, description="", demo=self._demo)
        attempt = PaymentAttempt(
            id=new_id("A", 9),
            sale_id=sale_id,
            amount_kes=payment.amount_kes,
            phone=payment.phone,
            state=State.PAID,
            outcome="paid",
            result_code="0",
            receipt=payment.trans_id,
            method=method,
            created_at=now,
            updated_at=now,
            settled_at=now,
            demo=self._demo,
        )
        # One transaction: the sale paid with its receipt and the audit row saying whose payment it was.
        return await self.ledger.create(
            sale,
            attempt,
            actor=actor,
            detail={
                "method": method,
                "trans_id": payment.trans_id,
                "first_name": payment.first_name,
                "phone": payment.phone,
                "paid_at": payment.paid_at,
            },
        )
