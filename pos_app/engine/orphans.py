"""Orphans after a restart: an attempt given up while its STK Push was out (the till died, or the push's
answer never came) has no CheckoutRequestID, so neither the relay's feed nor STK Query (which needs the
id, docs/daraja.md §3) can find its result. The relay keeps every result that reached this till's own
tokenised callback path; those no registration claimed are its orphans (relay/orphans.py). This module
settles from them only when exactly one fits, never on a guess:

- one paid orphan of the attempt's amount and phone inside its window, and no other attempt that could
  own it → paid with its receipt and CheckoutRequestID (`OrphanMatched`, reason "Matched by amount and
  phone after a restart.", its own audit row), then registered at the relay so it is nobody's orphan;
- several, or another attempt of the same amount and phone that could own it → left unknown and flagged
  `orphans_ambiguous` for the owner, who checks the customer's SMS (a typed receipt settles it);
- none → unchanged; looked for again (a callback can come minutes later) until the window closes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from daraja_core.contract import Orphan
from daraja_core.phones import mask_msisdn
from daraja_core.results import PAID_CODE
from pos_app.engine.relay_client import RelayError
from pos_app.engine.settling import Settler
from pos_app.engine.states import OrphanMatched, State
from pos_app.store.models import PaymentAttempt

log = logging.getLogger(__name__)

#: The relay's clock may run a little behind the till's.
WINDOW_BEFORE_S = 120.0
#: A prompt lives about a minute; Safaricom's callback may lag minutes behind it.
WINDOW_AFTER_S = 15 * 60.0
#: The anomaly of an attempt with several possible results (pos_app/ui/strings.py has its words).
AMBIGUOUS = "orphans_ambiguous"


class Resolution(StrEnum):
    SETTLED = "settled"  # paid from its one orphan
    AMBIGUOUS = "ambiguous"  # flagged for the owner
    LATER = "later"  # nothing yet (or the relay did not answer): look again
    DONE = "done"  # nothing to look for: not such an attempt, no relay, or its window has closed


def window(row: PaymentAttempt) -> tuple[datetime, datetime]:
    """When this attempt's callback can have reached the relay."""
    started = row.push_started_at or row.created_at
    return started - timedelta(seconds=WINDOW_BEFORE_S), started + timedelta(seconds=WINDOW_AFTER_S)


def looks_for_orphans(row: PaymentAttempt) -> bool:
    return row.state == State.UNKNOWN and not row.checkout_request_id and row.anomaly != AMBIGUOUS


class OrphanMatcher:
    def __init__(self, settler: Settler, *, now: Callable[[], datetime]) -> None:
        self.settler = settler
        self.ledger = settler.ledger
        self.store = settler.store
        self._now = now

    async def resolve(self, attempt_id: str) -> Resolution:
        row = await self.store.get_attempt(attempt_id)
        client = self.settler.relay.client
        if row is None or client is None or not looks_for_orphans(row):
            return Resolution.DONE
        since, until = window(row)
        try:
            orphans, more = await client.orphans(
                amount_kes=row.amount_kes, phone=row.phone, since=since, until=until
            )
        except RelayError as error:
            log.info("orphan look-up for attempt %s deferred: %s", row.id, error)
            return Resolution.LATER
        nearby = await self.store.attempts_created_between(
            since - timedelta(seconds=WINDOW_AFTER_S), until + timedelta(seconds=WINDOW_BEFORE_S)
        )
        known = {attempt.checkout_request_id for attempt in nearby if attempt.checkout_request_id}
        candidates = [
            orphan
            for orphan in orphans
            if orphan.result_code == PAID_CODE
            and orphan.receipt
            and orphan.checkout_request_id not in known
            and await self.store.attempt_with_receipt(orphan.receipt) is None
        ]
        rivals = [
            attempt.id
            for attempt in nearby
            if attempt.id != row.id
            and not attempt.checkout_request_id
            and attempt.state in (State.CREATED, State.UNKNOWN)
            and (attempt.amount_kes, attempt.phone) == (row.amount_kes, row.phone)
        ]
        if not candidates:
            return Resolution.LATER if self._now() < until else Resolution.DONE
        if len(candidates) == 1 and not more and not rivals:
            return await self._settle(row, candidates[0])
        await self._ask_the_owner(row, candidates, more, rivals)
        return Resolution.AMBIGUOUS

    async def _settle(self, row: PaymentAttempt, orphan: Orphan) -> Resolution:
        view = await self.ledger.apply(
            row.id,
            OrphanMatched(
                at=self._now(),
                checkout_request_id=orphan.checkout_request_id,
                receipt=orphan.receipt,
                result_desc=orphan.result_desc,
            ),
            actor="relay",
            detail={
                "matched_by": "amount and phone after a restart",
                "candidates": 1,
                "orphan_received_at": orphan.received_at,
            },
        )
        log.warning(
            "attempt %s (KES %s, %s) paid from its one orphan %s after a restart",
            row.id,
            row.amount_kes,
            mask_msisdn(row.phone),
            orphan.checkout_request_id,
        )
        updated = await self.store.get_attempt(row.id)
        client = self.settler.relay.client
        if view.state == State.PAID and updated is not None and client is not None:
            try:  # so it is nobody's orphan any more; else the reconciler registers it later
                await self.settler.register_with_relay(client, updated, orphan.checkout_request_id)
            except RelayError as error:
                log.info("registering attempt %s after its orphan match deferred: %s", row.id, error)
        return Resolution.SETTLED

    async def _ask_the_owner(
        self, row: PaymentAttempt, candidates: list[Orphan], more: bool, rivals: list[str]
    ) -> None:
        receipts = ", ".join(orphan.receipt for orphan in candidates) + (", …" if more else "")
        detail = (
            f"{len(candidates)}{'+' if more else ''} paid M-Pesa result(s) of KES {row.amount_kes} from "
            f"{mask_msisdn(row.phone)} reached the relay with no CheckoutRequestID known ({receipts})"
        )
        if rivals:
            detail += f"; attempt(s) {', '.join(rivals)} could own them too"
        await self.ledger.note(
            row.id,
            {"anomaly": AMBIGUOUS, "anomaly_detail": detail + ": check the customer's SMS"},
            actor="relay",
            action=AMBIGUOUS,
            detail={"candidates": len(candidates), "more": more, "rivals": len(rivals)},
            announce=True,
        )
        log.warning("attempt %s: %s", row.id, detail)
