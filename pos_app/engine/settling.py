"""Settling a pushed payment: wait for its result from the relay (the callback Daraja sent there) and from
STK Query when the relay is silent or down, apply relay results and query answers; unknown at the deadline,
then the reconciler keeps looking (docs/architecture.md "The till's engine facade").

Guarantees:
- "Still processing" answers are waiting, never failures (docs/daraja.md §3).
- A result from any source goes through the state machine, so applying it twice changes nothing.
- A result the relay marks unverified (the seed path, from an address not on Safaricom's list: anyone
  can post there, docs/daraja.md §5) is a hint: it is confirmed by STK Query, never shown as final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from daraja_core.results import QUERY_PENDING_CODES
from pos_app.config import Timings
from pos_app.daraja import DarajaClient, DarajaError
from pos_app.engine.ledger import Ledger, audit_entry
from pos_app.engine.relay_client import (
    RelayClient,
    RelayConflict,
    RelayError,
    RelayPayment,
    RelayRefused,
    RelayUnavailable,
)
from pos_app.engine.relay_events import NON_BLOCKING_ANOMALIES, event_from_relay
from pos_app.engine.states import FINAL_STATES, DeadlinePassed, Method, ResultReported, State
from pos_app.engine.views import AttemptView
from pos_app.store.models import PaymentAttempt

log = logging.getLogger(__name__)


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


#: Called with an attempt id and a delay in seconds: the reconciler should keep looking for its result
#: (unknown) or its receipt (paid by STK Query), querying first after that delay.
ReconcileLater = Callable[[str, float], None]


class Settler:
    def __init__(
        self,
        *,
        ledger: Ledger,
        daraja: DarajaClient,
        relay: RelayLink,
        timings: Timings,
        now: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        reconcile_later: ReconcileLater = lambda _id, _delay: None,
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.daraja = daraja
        self.relay = relay
        self.timings = timings
        self._now = now
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._reconcile_later = reconcile_later
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closed = False

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

    async def _settle(self, attempt_id: str) -> None:
        row = await self.store.get_attempt(attempt_id)
        if row is None or row.state != State.PROMPT_SENT or row.checkout_request_id is None:
            return
        checkout_request_id = row.checkout_request_id
        settled = asyncio.Event()

        def listener(view: AttemptView) -> None:
            if view.attempt_id == attempt_id and view.state in FINAL_STATES:
                settled.set()

        unsubscribe = self.ledger.subscribe(listener)
        workers: list[asyncio.Task[None]] = []
        try:
            if self.relay.client is not None:
                waiting = self._wait_on_relay(self.relay.client, row, checkout_request_id)
                workers.append(asyncio.create_task(waiting, name=f"relay-wait:{attempt_id}"))
            querying = self._query_daraja(row, checkout_request_id)
            workers.append(asyncio.create_task(querying, name=f"query:{attempt_id}"))
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
                self._reconcile_later(attempt_id, self.timings.reconcile_query_first_s)
        elif self.relay.client is not None:
            # Paid by STK Query: the receipt comes with the callback, through the reconciler's feed.
            self._reconcile_later(attempt_id, self.timings.reconcile_query_first_s)

    async def apply_relay_payments(self, payments: list[RelayPayment]) -> None:
        """A page of the relay's feed, applied in one store transaction (order_id is the attempt id);
        unverified results are confirmed by STK Query instead."""
        for hint in [p for p in payments if p.unverified and p.order_id]:
            await self.confirm_hint(hint.order_id, hint)
        payments = [p for p in payments if not p.unverified]
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
        if payment.unverified:
            return await self.confirm_hint(attempt_id, payment)
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

    async def confirm_hint(self, attempt_id: str, payment: RelayPayment) -> AttemptView | None:
        """An unverified result: audited, then asked of Daraja by STK Query; only Daraja's answer (or a
        genuine callback, which the relay puts in place of the hint) settles the attempt."""
        row = await self.store.get_attempt(attempt_id)
        if row is None or row.state in FINAL_STATES or row.checkout_request_id != payment.checkout_request_id:
            return None
        await self.store.append_audit(
            [
                audit_entry(
                    at=self._now(),
                    actor="relay",
                    action="unverified_result",
                    attempt=row,
                    from_state=row.state,
                    to_state=row.state,
                    detail={
                        "relay_status": payment.status,
                        "result_code": payment.result_code,
                        "confirm_by": "stk_query",
                    },
                )
            ]
        )
        log.warning(
            "attempt %s: unverified %s result from the relay's seed path; confirming by STK Query",
            attempt_id,
            payment.status,
        )
        view = await self.query_once(attempt_id, payment.checkout_request_id)
        if view is None or view.state not in FINAL_STATES:
            # Still unconfirmed: the live wait keeps querying, and after it the reconciler.
            self._reconcile_later(attempt_id, self.timings.reconcile_query_first_s)
        return view

    async def register_with_relay(
        self, client: RelayClient, row: PaymentAttempt, checkout_request_id: str
    ) -> RelayPayment:
        """Register the expected payment (idempotent on CheckoutRequestID) and note it on the attempt."""
        payment = await client.register(
            order_id=row.id,
            checkout_request_id=checkout_request_id,
            amount_kes=row.amount_kes,
            phone=row.phone,
        )
        self.relay.on_reachable(True)
        await self.ledger.note(
            row.id, {"relay_registered": True}, actor="system", action="registered_with_relay"
        )
        return payment

    async def _wait_on_relay(
        self, client: RelayClient, row: PaymentAttempt, checkout_request_id: str
    ) -> None:
        """Make sure the relay expects this payment, and take a result it already holds.

        The waiting itself is the reconciler's single long-poll on the relay's feed (`?after=N&wait=S`),
        which wakes for any of this till's results: one connection for every payment in flight instead of
        one per payment (httpx's pool costs grow with the connections it holds; benchmarks/settle_latency).
        """
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
                    payment = await self.register_with_relay(client, row, checkout_request_id)
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

    async def _query_daraja(self, row: PaymentAttempt, checkout_request_id: str) -> None:
        if row.prompt_sent_at is None:
            raise RuntimeError(f"attempt {row.id} is waiting for the customer but has no prompt_sent_at")
        silence_ends = row.prompt_sent_at + timedelta(seconds=self.timings.relay_silence_s)
        wait = (silence_ends - self._now()).total_seconds()
        if wait > 0:
            await self._sleep(wait)
        gaps = iter(self.query_gaps())
        while True:
            view = await self.query_once(row.id, checkout_request_id)
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

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
