"""The background reconciler: keeps looking for the result of every attempt the till gave up waiting for
(unknown), and for the receipt of every sale settled by STK Query, for hours: a result that
arrives after the till gave up still settles the payment.

Two sources, both idempotent through the state machine:
- the relay's cursor feed (`GET /api/v1/results?after=N&wait=S`), the cursor kept in the settings table so a
  till that was off catches up with nothing missed; registrations the relay never got are retried here;
- STK Query, occasionally, on a growing per-attempt schedule (Daraja's rate limits are unpublished,
  docs/daraja.md §3);
- for an unknown attempt that never learned its CheckoutRequestID (nothing to query), the relay's
  orphans of its amount and phone, on the same schedule (pos_app/engine/orphans.py); once one settled it,
  the same look-up on, until its window closes, for a second paid one to flag for the owner.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from daraja_core.contract import C2bPayment, FeedItem
from pos_app.engine.orphans import (
    OrphanMatcher,
    Resolution,
    looks_for_orphans,
    watches_for_another_orphan,
)
from pos_app.engine.relay_client import RelayClient, RelayError, RelayPayment, RelayRefused
from pos_app.engine.settling import Settler
from pos_app.engine.states import State
from pos_app.store.models import PaymentAttempt

log = logging.getLogger(__name__)

FEED_CURSOR_KEY = "relay_feed_after"


class Reconciler:
    def __init__(
        self,
        settler: Settler,
        *,
        now: Callable[[], datetime],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        on_callback_seen: Callable[[datetime], None] = lambda _at: None,
        tick_s: float = 1.0,
        on_c2b: Callable[[list[C2bPayment]], Awaitable[None]] | None = None,
    ) -> None:
        self.settler = settler
        self.store = settler.store
        self.timings = settler.timings
        self._now = now
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._on_callback_seen = on_callback_seen
        self._tick_s = tick_s
        self._on_c2b = on_c2b
        #: attempt id → (next query time, current gap)
        self._query_plan: dict[str, tuple[datetime, float]] = {}
        #: Set when some attempt may be unknown to the relay (at start, after the relay was unreachable);
        #: the store is only searched for them then, not on every tick.
        self._registrations_due = True
        self._tasks: list[asyncio.Task[None]] = []
        self._orphans = OrphanMatcher(settler, now=now)

    def track(self, attempt_id: str, first_query_in_s: float) -> None:
        """Look after this attempt: query it first after `first_query_in_s`, then less and less often."""
        when = self._now() + timedelta(seconds=first_query_in_s)
        current = self._query_plan.get(attempt_id)
        if current is None or current[0] > when:
            self._query_plan[attempt_id] = (when, max(first_query_in_s, self.timings.reconcile_query_first_s))
        self._registrations_due = True  # it may never have reached the relay

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._query_loop(), name="reconcile:query"))
        client = self.settler.relay.client
        if client is not None:
            self._tasks.append(asyncio.create_task(self._feed_loop(client), name="reconcile:feed"))
            self._tasks.append(
                asyncio.create_task(self._registration_loop(client), name="reconcile:register")
            )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        self._tasks.clear()

    def _within_horizon(self, row: PaymentAttempt) -> bool:
        return (self._now() - row.created_at).total_seconds() < self.timings.reconcile_horizon_s

    # --- STK Query, occasionally ---------------------------------------------------------------------

    async def _query_loop(self) -> None:
        while True:
            try:
                await self._query_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciler query pass failed")
            # A plain sleep, not wait_for on an event: Python 3.11's wait_for can swallow a cancellation
            # that lands as the event fires, and close() would then wait forever.
            await self._sleep(self._tick_s)

    async def _query_due(self) -> None:
        now = self._now()
        for attempt_id, (when, gap) in list(self._query_plan.items()):
            if when > now:
                continue
            row = await self.store.get_attempt(attempt_id)
            if (
                row is not None
                and self._within_horizon(row)
                and (looks_for_orphans(row) or watches_for_another_orphan(row))
            ):
                # Settled from its one orphan: watched on the same schedule for a second one.
                if await self._orphans.resolve(attempt_id) in (Resolution.LATER, Resolution.SETTLED):
                    self._plan_next(attempt_id, gap)
                else:
                    self._query_plan.pop(attempt_id, None)
                continue
            if row is None or not self._within_horizon(row) or not row.checkout_request_id:
                self._query_plan.pop(attempt_id, None)
                continue
            if row.state == State.FAILED or (
                row.state == State.PAID and (row.receipt or row.method == "manual")
            ):
                self._query_plan.pop(attempt_id, None)
                continue
            if attempt_id in self.settler.settling:
                self._query_plan[attempt_id] = (now + timedelta(seconds=gap), gap)
                continue
            if row.state != State.PAID:  # a paid-by-query attempt only waits for the callback's receipt
                await self.settler.query_once(attempt_id, row.checkout_request_id)
            self._plan_next(attempt_id, gap)

    def _plan_next(self, attempt_id: str, gap: float) -> None:
        jitter = 1 + self._rng.uniform(-0.2, 0.2)
        next_gap = min(gap * 2, self.timings.reconcile_query_max_s)
        self._query_plan[attempt_id] = (self._now() + timedelta(seconds=gap * jitter), next_gap)

    # --- the relay's feed ----------------------------------------------------------------------------

    async def _feed_loop(self, client: RelayClient) -> None:
        delay = self.timings.relay_retry_first_s
        after = int(await self.store.get_setting(FEED_CURSOR_KEY) or 0)
        while True:
            try:
                items, next_after = await client.results(after=after, wait_s=self.timings.long_poll_s)
                self.settler.relay.on_reachable(True)
                delay = self.timings.relay_retry_first_s
                await self._apply_feed_items(items)
                if next_after != after:
                    after = next_after
                    await self.store.put_setting(FEED_CURSOR_KEY, str(after), self._now())
            except asyncio.CancelledError:
                raise
            except RelayRefused as error:
                self.settler.relay.on_reachable(False)
                log.warning("relay refused the feed: %s", error)
                await self._sleep(self.timings.relay_retry_max_s)
            except RelayError as error:
                self.settler.relay.on_reachable(False)
                log.info("relay feed not answering (%s); retrying in %.1f s", error, delay)
                await self._sleep(delay * (1 + self._rng.uniform(-0.2, 0.2)))
                delay = min(delay * 2, self.timings.relay_retry_max_s)
            except Exception:
                log.exception("relay feed pass failed")
                await self._sleep(delay)

    async def catch_up_feed(self) -> None:
        """Apply the relay's feed to its end now, without waiting (a one-shot command reads what the relay
        holds before it answers). Applying an entry twice changes nothing, so running beside the feed loop
        is safe. RelayError when the relay cannot be read."""
        client = self.settler.relay.client
        if client is None:
            return
        after = int(await self.store.get_setting(FEED_CURSOR_KEY) or 0)
        while True:
            items, next_after = await client.results(after=after)
            await self._apply_feed_items(items)
            if next_after == after:
                return
            after = next_after
            await self.store.put_setting(FEED_CURSOR_KEY, str(after), self._now())

    async def _apply_feed_items(self, items: list[FeedItem]) -> None:
        for item in items:
            if (settled := item.settled_time) is not None:
                self._on_callback_seen(settled)
        # C2B payments to the shop are kept before the cursor moves past them (paid_to_till.py).
        c2b = [item.c2b for item in items if item.c2b is not None]
        if c2b and self._on_c2b is not None:
            await self._on_c2b(c2b)
        # order_id is the attempt id (the till registers it so); an order this store does not hold, or
        # an attempt still being pushed, is skipped inside the batch. A feed item is its payment.
        await self.settler.apply_relay_payments(list[RelayPayment](items))

    # --- registrations the relay never got -----------------------------------------------------------

    def registrations_due(self) -> None:
        self._registrations_due = True

    async def _registration_loop(self, client: RelayClient) -> None:
        while True:
            try:
                if self._registrations_due:
                    self._registrations_due = False
                    if not await self.register_missing(client):
                        self._registrations_due = True
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciler registration pass failed")
            await self._sleep(max(self._tick_s, self.timings.relay_retry_first_s))

    async def register_missing(self, client: RelayClient) -> bool:
        """Register attempts the relay has not heard of (it was down, or the till died before), then read
        their status once: a callback held by the relay for an unregistered id applies on registration.
        False when the relay could not be reached (try again later)."""
        complete = True
        for row in await self.store.unsettled_attempts():
            if row.relay_registered or not row.checkout_request_id:
                continue
            if row.id in self.settler.settling:
                complete = False  # its own task is registering it; look again later
                continue
            if row.state == State.FAILED or not self._within_horizon(row):
                continue
            try:
                payment = await self.settler.register_with_relay(client, row, row.checkout_request_id)
                status = await client.status(row.id)
            except RelayError as error:
                self.settler.relay.on_reachable(False)
                log.info("relay registration of attempt %s deferred: %s", row.id, error)
                return False
            await self.settler.apply_relay_payment(row.id, status or payment)
        return complete
