"""Starting a payment: validate → persist the attempt → STK Push → store the ids → hand the attempt to the
settler (docs/architecture.md "The till's engine facade").

Guarantees:
- The attempt is in the store before the push leaves (a crash after the push finds it on start).
- One STK Push per attempt, ever: a push whose outcome is unclear makes the attempt unknown, and nothing
  here or in recovery sends it again (README "Why the till never sends an STK Push twice").
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from daraja_core.phones import mask_msisdn
from pos_app.config import Timings
from pos_app.daraja import (
    DarajaClient,
    DarajaError,
    InvalidPaymentRequest,
    PushOutcomeUnknown,
)
from pos_app.engine.errors import ChargeRefused
from pos_app.engine.ledger import Ledger
from pos_app.engine.settling import ReconcileLater, Settler
from pos_app.engine.states import (
    Event,
    IllegalTransition,
    PushAccepted,
    PushRefused,
    State,
)
from pos_app.engine.states import PushOutcomeUnknown as PushUnknownEvent
from pos_app.engine.views import AttemptView, view_of
from pos_app.store.models import PaymentAttempt, Sale

log = logging.getLogger(__name__)

_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the counter


def new_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


class Charger:
    def __init__(
        self,
        *,
        ledger: Ledger,
        daraja: DarajaClient,
        settler: Settler,
        callback_url: Callable[[], str],
        timings: Timings,
        now: Callable[[], datetime],
        demo: bool = False,
        reconcile_later: ReconcileLater = lambda _id, _delay: None,
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.daraja = daraja
        self.settler = settler
        self._callback_url = callback_url
        self.timings = timings
        self._now = now
        self.demo = demo
        self._reconcile_later = reconcile_later
        self._pushing: set[str] = set()
        self._sale_locks: dict[str, asyncio.Lock] = {}

    @property
    def pushing(self) -> frozenset[str]:
        return frozenset(self._pushing)

    def validate(self, amount_kes: int, phone: str) -> str:
        """The normalised MSISDN; InvalidPaymentRequest / InvalidPhone with the cashier's message.

        These are the Daraja client's own checks (amount, phone, callback URL, Buy Goods till number),
        run before anything is stored so a refused charge leaves no attempt behind.
        """
        body = self.daraja.prepare_stk_push(
            amount_kes=amount_kes,
            phone=phone,
            account_reference="CHECK",
            description="check",
            callback_url=self._callback_url(),
        )
        return str(body["PhoneNumber"])

    async def charge(
        self,
        amount_kes: int,
        phone: str,
        description: str = "",
        *,
        sale_id: str | None = None,
        customer_confirms_no_sms: bool = False,
        actor: str = "cashier",
    ) -> AttemptView:
        msisdn = self.validate(amount_kes, phone)
        sale_key = sale_id or ""
        lock = self._sale_locks.setdefault(sale_key, asyncio.Lock()) if sale_id else asyncio.Lock()
        if lock.locked():
            raise ChargeRefused("A payment for this sale is already being sent.")
        async with lock:
            sale: Sale | None = None
            now = self._now()
            if sale_id:
                existing = await self.store.get_sale(sale_id)
                if existing is None:
                    sale = Sale(id=sale_id, created_at=now, description=description, demo=self.demo)
                else:
                    await self._check_sale_can_charge(sale_id, customer_confirms_no_sms)
            else:
                sale = Sale(id=new_id("S", 9), created_at=now, description=description, demo=self.demo)
            attempt = PaymentAttempt(
                id=new_id("A", 11),
                sale_id=sale.id if sale else str(sale_id),
                amount_kes=amount_kes,
                phone=msisdn,
                description=description,
                account_reference=(sale.id if sale else str(sale_id))[:12],
                state=State.CREATED,
                created_at=now,
                updated_at=now,
                push_started_at=now,
                customer_confirmed_no_sms=customer_confirms_no_sms,
                demo=self.demo,
            )
            detail = {"amount_kes": amount_kes, "phone": mask_msisdn(msisdn), "demo": self.demo}
            if customer_confirms_no_sms:
                detail["customer_confirms_no_sms"] = True
            # Persisted before the push: a crash from here on finds this row on start.
            self._pushing.add(attempt.id)
            try:
                await self.ledger.create(sale, attempt, actor=actor, detail=detail)
                return await self._push(attempt)
            finally:
                self._pushing.discard(attempt.id)

    async def _check_sale_can_charge(self, sale_id: str, confirmed: bool) -> None:
        attempts = await self.store.attempts_for_sale(sale_id)
        if any(a.state in (State.CREATED, State.PROMPT_SENT) for a in attempts):
            raise ChargeRefused("This sale already has a payment waiting for the customer.")
        if any(a.state == State.PAID for a in attempts):
            raise ChargeRefused("This sale is already paid.")
        if attempts and attempts[-1].state == State.UNKNOWN and not confirmed:
            raise ChargeRefused(
                "The last payment for this sale is unknown: check the customer's SMS. Charge again only "
                "when the customer confirms no M-Pesa SMS arrived."
            )

    async def _push(self, attempt: PaymentAttempt) -> AttemptView:
        try:
            accepted = await self.daraja.stk_push(
                amount_kes=attempt.amount_kes,
                phone=attempt.phone,
                account_reference=attempt.account_reference,
                description=attempt.description,
                callback_url=self._callback_url(),
            )
        except PushOutcomeUnknown as error:
            view = await self._apply_push_end(
                attempt,
                PushUnknownEvent(at=self._now(), reason=str(error)),
                actor="daraja",
                detail={"error_code": error.error_code},
            )
            self._reconcile_later(attempt.id, 0.0)
            return view
        except (DarajaError, InvalidPaymentRequest) as error:
            # Every other client error means Daraja accepted no push (pos_app/daraja/errors.py).
            code = getattr(error, "error_code", None) or type(error).__name__
            return await self._apply_push_end(
                attempt,
                PushRefused(at=self._now(), error_code=str(code), reason=str(error)),
                actor="daraja",
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug or an unforeseen transport error: the prompt may be out
            log.exception("STK Push for attempt %s ended unexpectedly", attempt.id)
            view = await self._apply_push_end(
                attempt,
                PushUnknownEvent(at=self._now(), reason=f"unexpected error: {type(error).__name__}"),
                actor="system",
            )
            self._reconcile_later(attempt.id, 0.0)
            return view
        now = self._now()
        try:
            view = await self.ledger.apply(
                attempt.id,
                PushAccepted(
                    at=now,
                    merchant_request_id=accepted.merchant_request_id,
                    checkout_request_id=accepted.checkout_request_id,
                    wait_deadline_at=now + timedelta(seconds=self.timings.wait_deadline_s),
                ),
                actor="daraja",
            )
        except IllegalTransition:
            # Another process on this store already gave up on the attempt (it looked abandoned). Keep the
            # ids so the reconciler can still find its result; the state stays what that process decided.
            log.warning("attempt %s changed while its push was out; keeping the push's ids", attempt.id)
            await self.ledger.note(
                attempt.id,
                {
                    "merchant_request_id": accepted.merchant_request_id,
                    "checkout_request_id": accepted.checkout_request_id,
                    "prompt_sent_at": now,
                },
                actor="daraja",
                action="late_push_answer",
                announce=True,
            )
            self._reconcile_later(attempt.id, 0.0)
            return attempt_view(await self.store.get_attempt(attempt.id) or attempt)
        self.settler.start_settling(attempt.id)
        return view

    async def _apply_push_end(
        self, attempt: PaymentAttempt, event: Event, *, actor: str, detail: dict[str, Any] | None = None
    ) -> AttemptView:
        """The push's end, unless another process on this store already gave up on the attempt (it looked
        abandoned): then its decision (unknown) stands, and the cashier gets the attempt as it is."""
        try:
            return await self.ledger.apply(attempt.id, event, actor=actor, detail=detail)
        except IllegalTransition:
            log.warning("attempt %s changed while its push was out; its state stands", attempt.id)
            return attempt_view(await self.store.get_attempt(attempt.id) or attempt)


def attempt_view(row: PaymentAttempt) -> AttemptView:
    return view_of(row)
