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
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from daraja_core.contract import C2bPayment, parse_wire_time, wire_time
from daraja_core.phones import format_local_masked
from pos_app.engine.cash import counts_as_paid
from pos_app.engine.charging import new_id
from pos_app.engine.errors import TillError
from pos_app.engine.ledger import Ledger, audit_entry
from pos_app.engine.relay_client import C2bTaken, RelayClient, RelayError, RelayUnavailable
from pos_app.engine.states import Method, State
from pos_app.engine.views import AttemptView, view_of
from pos_app.store import writer
from pos_app.store.models import C2bPaymentRow, PaymentAttempt, Sale

log = logging.getLogger(__name__)

#: The anomaly of a sale whose C2B payment the owner released (it was claimed by mistake).
C2B_RELEASED = "c2b_released"


class _PaidMeanwhile(Exception):
    """The sale was paid another way while its claim was at the relay."""


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


def payment_of(row: C2bPaymentRow, *, claimed_by: str | None) -> C2bPayment:
    return C2bPayment(
        trans_id=row.trans_id,
        amount_kes=row.amount_kes,
        first_name=row.first_name,
        phone=row.phone,
        bill_ref=row.bill_ref,
        shortcode=row.shortcode,
        paid_at=wire_time(row.paid_at) or "",
        received_at=wire_time(row.received_at) or "",
        claimed_by=claimed_by,
        claimed_at=None,
    )


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
        self._syncing = asyncio.Lock()

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
        self.tell_listeners()
        if await self.store.pending_c2b_claims():
            # The feed answered, so the relay is back: tell it the claims made without it.
            await self.sync_pending_claims()

    def tell_listeners(self) -> None:
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
            payment, decided_by = await self._claim_at_relay(sale_key, code)
            try:
                return await self._settle(
                    sale_key,
                    payment,
                    sale_exists=bool(attempts) or None,
                    source=decided_by,
                    method=method,
                    actor=actor,
                )
            except _PaidMeanwhile:
                # Paid another way (cash) during the claim's round trip: the payment goes back, unclaimed,
                # for another sale, rather than paying this one twice.
                try:
                    await self.release(code, released_by="till: the sale was paid meanwhile")
                except C2bClaimRefused as error:
                    log.warning(
                        "a claim for a sale paid meanwhile could not be given back: %s", error.message
                    )
                    raise C2bClaimRefused(
                        f"Sale {sale_key} was paid meanwhile; {code} is still taken by it: the owner "
                        "releases it from History (Alt+G)."
                    ) from error
                raise C2bClaimRefused(
                    f"Sale {sale_key} was paid meanwhile; {code} stays free for another sale."
                ) from None

    async def _claim_at_relay(self, sale_id: str, code: str) -> tuple[C2bPayment, str]:
        """The payment and where the claim was decided: "relay", or "pull" when the till decided alone."""
        relay = self._relay()
        known = await self.store.get_c2b_payment(code)
        pulled = known is not None and known.source == "pull"
        if relay is None:
            if known is not None and pulled:
                return await self._claim_alone(sale_id, known), "pull"
            raise C2bClaimRefused("Payments to the till number need the relay; this till has none.")
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
            if known is not None and pulled and isinstance(error, RelayUnavailable):
                return await self._claim_alone(sale_id, known), "pull"
            raise C2bClaimRefused(f"The relay could not be asked to claim {code}: {error}.") from error
        if payment is None:
            if known is not None and pulled:
                # M-Pesa has it (Pull) but its confirmation never reached the relay.
                return await self._claim_alone(sale_id, known), "pull"
            raise C2bClaimRefused(f"The relay has no payment {code} to this shop.")
        await self.store.put_c2b_payments([row_of(payment, self._now())])
        return payment, "relay"

    async def _claim_alone(self, sale_id: str, known: C2bPaymentRow) -> C2bPayment:
        """Claim a payment only Pull Transactions reported, without the relay: kept `claim_pending` and
        told to the relay by `sync_pending_claims` once it can be (docs/architecture.md "Pull fallback")."""
        if not await self.store.claim_c2b_locally(known.trans_id, sale_id, self._now()):
            current = await self.store.get_c2b_payment(known.trans_id)
            holder = current.claimed_by if current is not None else None
            raise C2bClaimRefused(f"Payment {known.trans_id} is already used on sale {holder}.")
        return payment_of(known, claimed_by=sale_id)

    async def sync_pending_claims(self) -> list[tuple[str, str]]:
        """Tell the relay the claims this till made alone. Returns (TransID, other sale) for each payment
        another sale had claimed at the relay meanwhile: both sales are audited for the owner to resolve."""
        relay = self._relay()
        if relay is None:
            return []
        conflicts: list[tuple[str, str]] = []
        async with self._syncing:
            for row in await self.store.pending_c2b_claims():
                sale_id = row.claimed_by or ""
                try:
                    payment = await relay.claim_c2b(row.trans_id, sale_id)
                except C2bTaken as taken:
                    await self._audit_conflict(row.trans_id, sale_id, taken.claimed_by)
                    await self.store.settle_c2b_claim(row.trans_id, taken.claimed_by, self._now())
                    conflicts.append((row.trans_id, taken.claimed_by))
                    continue
                except RelayError as error:
                    log.info("claim of %s not told to the relay yet: %s", row.trans_id, error)
                    return conflicts
                if payment is not None:  # None: the relay still lacks the confirmation; try later
                    await self.store.settle_c2b_claim(row.trans_id, payment.claimed_by, self._now())
        return conflicts

    async def _audit_conflict(self, trans_id: str, sale_id: str, other_sale: str) -> None:
        attempt = await self.store.attempt_with_receipt(trans_id)
        log.warning(
            "C2B %s claimed offline by sale %s, but sale %s had it at the relay",
            trans_id,
            sale_id,
            other_sale,
        )
        await self.store.append_audit(
            [
                audit_entry(
                    at=self._now(),
                    actor="till",
                    action="c2b_claim_conflict",
                    attempt=attempt,
                    detail={"trans_id": trans_id, "sale_id": sale_id, "claimed_at_relay_by": other_sale},
                )
            ]
        )

    async def _settle(
        self,
        sale_id: str,
        payment: C2bPayment,
        *,
        sale_exists: bool | None,
        source: str,
        method: Method,
        actor: str,
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

        def not_paid_yet(connection: sqlite3.Connection) -> None:
            # In the same transaction as the write: the check before the claim's round trip is not enough.
            if any(counts_as_paid(row) for row in writer.select_attempts_of_sale(connection, sale_id)):
                raise _PaidMeanwhile

        # One transaction: the sale paid with its receipt and the audit row saying whose payment it was.
        return await self.ledger.create(
            sale,
            attempt,
            check=not_paid_yet,
            actor=actor,
            detail={
                "method": method,
                "trans_id": payment.trans_id,
                "first_name": payment.first_name,
                "phone": payment.phone,
                "paid_at": payment.paid_at,
                # "pull": claimed by this till alone, from Pull Transactions; the relay is told later.
                "claim_decided_by": source,
            },
        )

    async def release(self, trans_id: str, released_by: str) -> AttemptView | None:
        """Give a wrongly claimed payment back to the shop (the caller checked the owner PIN): at the
        relay, or here alone for a claim the relay was never told. The sale it paid here becomes unpaid
        (`failed`, anomaly `c2b_released`, audited); returns that sale's payment, if this till had it."""
        code = trans_id.strip().upper()
        known = await self.store.get_c2b_payment(code)
        if known is not None and known.claim_pending:
            await self.store.settle_c2b_claim(code, None, self._now())
        else:
            relay = self._relay()
            if relay is None:
                raise C2bClaimRefused("Payments to the till number need the relay; this till has none.")
            try:
                payment = await relay.release_c2b(code, released_by)
            except RelayError as error:
                raise C2bClaimRefused(f"The relay could not be asked to release {code}: {error}.") from error
            if payment is None:
                raise C2bClaimRefused(f"The relay has no payment {code} to this shop.")
            await self.store.put_c2b_payments([row_of(payment, self._now())])
        self.tell_listeners()
        holder = await self.store.attempt_with_receipt(code)
        if holder is None:
            return None
        return await self.ledger.note(
            holder.id,
            {
                "state": State.FAILED,
                "outcome": None,
                "result_code": None,
                "receipt": None,
                "anomaly": C2B_RELEASED,
            },
            actor="owner",
            action="c2b_release",
            detail={"trans_id": code, "released_by": released_by},
            announce=True,
        )
