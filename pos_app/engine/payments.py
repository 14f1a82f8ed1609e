"""Taking one payment: validate → persist the attempt → STK Push → store the ids → register with the relay →
wait on the relay's long-poll → settle; STK Query when the relay is silent or down; unknown at the
deadline, then the reconciler (product.md "A payment, end to end"; issue 4 "Flow").

Guarantees:
- The attempt is in the store before the push leaves (a crash after the push finds it on start).
- One STK Push per attempt, ever: a push whose outcome is unclear makes the attempt unknown, and nothing
  here or in recovery sends it again (README "Why the till never sends an STK Push twice").
- "Still processing" answers are waiting, never failures (reference/daraja.md §3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from daraja_core.phones import mask_msisdn
from daraja_core.results import QUERY_PENDING_CODES
from pos_app.config import Timings
from pos_app.daraja import (
    DarajaClient,
    DarajaError,
    InvalidPaymentRequest,
    PushOutcomeUnknown,
)
from pos_app.engine.errors import ChargeRefused
from pos_app.engine.ledger import Ledger
from pos_app.engine.relay_client import (
    RelayClient,
    RelayConflict,
    RelayError,
    RelayPayment,
    RelayRefused,
    RelayUnavailable,
)
from pos_app.engine.relay_events import NON_BLOCKING_ANOMALIES, event_from_relay
from pos_app.engine.states import (
    FINAL_STATES,
    DeadlinePassed,
    Event,
    IllegalTransition,
    Method,
    PushAccepted,
    PushRefused,
    ResultReported,
    State,
)
from pos_app.engine.states import PushOutcomeUnknown as PushUnknownEvent
from pos_app.engine.views import AttemptView, view_of
from pos_app.store.models import PaymentAttempt, Sale

log = logging.getLogger(__name__)

_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the counter
RECEIPT_PATTERN = re.compile(r"^[A-Z0-9]{10}$")  # reference/daraja.md §7


def new_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def query_gaps(timings: Timings, rng: random.Random) -> list[float]:
    """Gaps between STK Queries after the silence window: growing by `query_growth` up to
    `query_max_gap_s`, each jittered by ±`query_jitter` so many tills never query in step. The cap bounds
    how late a result Daraja already knows is seen; queries stop at the wait deadline."""
    gaps: list[float] = []
    gap = timings.query_first_gap_s
    total = timings.relay_silence_s
    while total < timings.wait_deadline_s:
        jittered = gap * (1 + rng.uniform(-timings.query_jitter, timings.query_jitter))
        gaps.append(jittered)
        total += jittered
        gap = min(gap * timings.query_growth, timings.query_max_gap_s)
    return gaps


@dataclass
class RelayLink:
    """The relay as the engine uses it (None fields: query-only)."""

    client: RelayClient | None
    on_reachable: Callable[[bool], None] = lambda _ok: None


class PaymentEngine:
    def __init__(
        self,
        *,
        ledger: Ledger,
        daraja: DarajaClient,
        relay: RelayLink,
        callback_url: Callable[[], str],
        timings: Timings,
        now: Callable[[], datetime],
        demo: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_unknown: Callable[[str, float], None] = lambda _id, _delay: None,
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.daraja = daraja
        self.relay = relay
        self._callback_url = callback_url
        self.timings = timings
        self._now = now
        self.demo = demo
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._on_unknown = on_unknown
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pushing: set[str] = set()
        self._sale_locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    # --- charging ------------------------------------------------------------------------------------

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
            # Persisted before the push: a crash from here on finds this row on start (issue 4).
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
            self._on_unknown(attempt.id, 0.0)
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
            self._on_unknown(attempt.id, 0.0)
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
            self._on_unknown(attempt.id, 0.0)
            return attempt_view(await self.store.get_attempt(attempt.id) or attempt)
        self.start_settling(attempt.id)
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

    # --- settling ------------------------------------------------------------------------------------

    def start_settling(self, attempt_id: str) -> None:
        if self._closed or attempt_id in self._tasks:
            return
        task = asyncio.create_task(self._settle(attempt_id), name=f"settle:{attempt_id}")
        self._tasks[attempt_id] = task
        task.add_done_callback(lambda t: self._settle_done(attempt_id, t))

    def _settle_done(self, attempt_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(attempt_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("settling attempt %s failed", attempt_id, exc_info=task.exception())

    @property
    def settling(self) -> frozenset[str]:
        return frozenset(self._tasks)

    @property
    def pushing(self) -> frozenset[str]:
        return frozenset(self._pushing)

    async def _settle(self, attempt_id: str) -> None:
        row = await self.store.get_attempt(attempt_id)
        if row is None or row.state != State.PROMPT_SENT or row.checkout_request_id is None:
            return
        settled = asyncio.Event()

        def listener(view: AttemptView) -> None:
            if view.attempt_id == attempt_id and view.state in FINAL_STATES:
                settled.set()

        unsubscribe = self.ledger.subscribe(listener)
        workers: list[asyncio.Task[None]] = []
        try:
            if self.relay.client is not None:
                workers.append(asyncio.create_task(self._wait_on_relay(row), name=f"relay-wait:{attempt_id}"))
            workers.append(asyncio.create_task(self._query_daraja(row), name=f"query:{attempt_id}"))
            deadline = row.wait_deadline_at or (self._now() + timedelta(seconds=self.timings.wait_deadline_s))
            waiter = asyncio.create_task(settled.wait())
            pending: set[asyncio.Task[Any]] = {waiter, *workers}
            while not settled.is_set():
                remaining = (deadline - self._now()).total_seconds()
                if remaining <= 0 or pending == set():
                    break
                done, pending = await asyncio.wait(
                    pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    break
            waiter.cancel()
        finally:
            unsubscribe()
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
        if not settled.is_set():
            view = await self.ledger.apply(attempt_id, DeadlinePassed(at=self._now()), actor="system")
            if view.state == State.UNKNOWN:
                log.info("attempt %s unknown after the wait; the reconciler keeps looking", attempt_id)
                self._on_unknown(attempt_id, self.timings.reconcile_query_first_s)
        elif self.relay.client is not None:
            # Paid by STK Query: the receipt comes with the callback, through the reconciler's feed.
            self._on_unknown(attempt_id, self.timings.reconcile_query_first_s)

    async def apply_relay_payments(self, payments: list[RelayPayment]) -> None:
        """A page of the relay's feed, applied in one store transaction (order_id is the attempt id)."""
        now = self._now()
        batch = []
        for payment in payments:
            event = event_from_relay(payment, now)
            if event is not None and payment.order_id:
                detail = {"relay_status": payment.status, "relay_anomaly": payment.anomaly}
                batch.append((payment.order_id, event, "relay", detail))
        if not batch:
            return
        results = await self.ledger.apply_many(batch)  # type: ignore[arg-type]
        for payment, result in zip(
            [p for p in payments if event_from_relay(p, now) and p.order_id], results, strict=True
        ):
            if isinstance(result, Exception):
                continue  # not an attempt of this store, or one still being pushed
            if payment.anomaly in NON_BLOCKING_ANOMALIES and result.anomaly is None:
                await self.apply_relay_payment(result.attempt_id, payment)

    async def apply_relay_payment(self, attempt_id: str, payment: RelayPayment) -> AttemptView | None:
        event = event_from_relay(payment, self._now())
        if event is None:
            return None
        view = await self.ledger.apply(
            attempt_id,
            event,
            actor="relay",
            detail={"relay_status": payment.status, "relay_anomaly": payment.anomaly},
        )
        if payment.anomaly in NON_BLOCKING_ANOMALIES and view.anomaly is None:
            # A later callback contradicted a settled payment (the relay keeps the first): the owner sees it.
            noted = await self.ledger.note(
                attempt_id,
                {"anomaly": payment.anomaly, "anomaly_detail": f"relay: {payment.reason or payment.anomaly}"},
                actor="relay",
                action="anomaly",
                announce=True,
            )
            view = noted or view
        return view

    async def register_with_relay(self, row: PaymentAttempt) -> RelayPayment:
        """Register the expected payment (idempotent on CheckoutRequestID) and note it on the attempt."""
        assert self.relay.client is not None and row.checkout_request_id is not None
        payment = await self.relay.client.register(
            order_id=row.id,
            checkout_request_id=row.checkout_request_id,
            amount_kes=row.amount_kes,
            phone=row.phone,
        )
        self.relay.on_reachable(True)
        await self.ledger.note(
            row.id, {"relay_registered": True}, actor="system", action="registered_with_relay"
        )
        return payment

    async def _wait_on_relay(self, row: PaymentAttempt) -> None:
        """Make sure the relay expects this payment, and take a result it already holds.

        The waiting itself is the reconciler's single long-poll on the relay's feed (`?after=N&wait=S`),
        which wakes for any of this till's results: one connection for every payment in flight instead of
        one per payment (httpx's pool costs grow with the connections it holds; benchmarks/settle_latency).
        """
        client = self.relay.client
        assert client is not None
        delay = self.timings.relay_retry_first_s
        registered = row.relay_registered
        while True:
            try:
                if registered:
                    found = await client.status(row.id)
                    self.relay.on_reachable(True)
                    if found is None:  # the relay lost or never had the registration: register again
                        registered = False
                        continue
                    payment = found
                else:
                    payment = await self.register_with_relay(row)
                await self.apply_relay_payment(row.id, payment)
                return
            except (RelayConflict, RelayRefused) as error:
                # Nothing more to learn from the relay for this attempt; STK Query carries on.
                log.warning("relay will not serve attempt %s: %s", row.id, error)
                if isinstance(error, RelayRefused):
                    self.relay.on_reachable(False)
                return
            except (RelayUnavailable, RelayError) as error:
                self.relay.on_reachable(False)
                log.info("relay not answering for attempt %s (%s); retrying in %.1f s", row.id, error, delay)
                await self._sleep(delay * (1 + self._rng.uniform(-0.2, 0.2)))
                delay = min(delay * 2, self.timings.relay_retry_max_s)

    def query_gaps(self) -> list[float]:
        return query_gaps(self.timings, self._rng)

    async def _query_daraja(self, row: PaymentAttempt) -> None:
        assert row.checkout_request_id is not None and row.prompt_sent_at is not None
        silence_ends = row.prompt_sent_at + timedelta(seconds=self.timings.relay_silence_s)
        wait = (silence_ends - self._now()).total_seconds()
        if wait > 0:
            await self._sleep(wait)
        gaps = iter(self.query_gaps())
        while True:
            view = await self.query_once(row.id, row.checkout_request_id)
            if view is not None and view.state in FINAL_STATES:
                return
            await self._sleep(next(gaps, self.timings.query_max_gap_s))

    async def query_once(self, attempt_id: str, checkout_request_id: str) -> AttemptView | None:
        """One STK Query; applies a final answer. Pending, not-found and errors change nothing."""
        try:
            answer = await self.daraja.stk_query(checkout_request_id)
        except DarajaError as error:
            log.info("STK Query for attempt %s: no answer (%s)", attempt_id, error)
            return None
        if answer.state != "final" or answer.result_code is None or answer.result_code in QUERY_PENDING_CODES:
            return None
        return await self.ledger.apply(
            attempt_id,
            ResultReported(
                at=self._now(),
                result_code=answer.result_code,
                result_desc=answer.result_desc,
                method=Method.STK_QUERY,
            ),
            actor="daraja",
            detail={"source": "stk_query"},
        )

    # --- lifecycle -----------------------------------------------------------------------------------

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)


def attempt_view(row: PaymentAttempt) -> AttemptView:
    return view_of(row)
