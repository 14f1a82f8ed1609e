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

An attempt settled from its one orphan is watched until the same window closes (and looked at once after
it, so nothing received inside it is missed, also after a restart): a further paid orphan of its amount
and phone that no attempt holds means the customer paid twice, or the match was another sale's. The
attempt is flagged `another_orphan_paid` for the owner (To review); its state, receipt and money stay as
the match left them, and nothing is ever settled from the second one on a guess. While another attempt
of that amount and phone still looks for its own orphan, the watch waits for it to take its own.
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
from pos_app.engine.states import ORPHAN_MATCH_REASON, OrphanMatched, State
from pos_app.store.models import PaymentAttempt

log = logging.getLogger(__name__)

#: The relay's clock may run a little behind the till's.
WINDOW_BEFORE_S = 120.0
#: A prompt lives about a minute; Safaricom's callback may lag minutes behind it.
WINDOW_AFTER_S = 15 * 60.0
#: The anomaly of an attempt with several possible results (pos_app/ui/strings.py has its words).
AMBIGUOUS = "orphans_ambiguous"
#: The anomaly of an attempt settled from its one orphan when another paid one of its amount and phone
#: turns up afterwards (pos_app/ui/strings.py has its words).
ANOTHER_ORPHAN = "another_orphan_paid"
#: How the owner's sentence about it begins: kept when the attempt already carries another anomaly.
_ANOTHER_SAID = "paid again after the match:"


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


def watches_for_another_orphan(row: PaymentAttempt) -> bool:
    """Settled from its one orphan and not yet flagged for a second one."""
    return (
        row.state == State.PAID
        and row.reason == ORPHAN_MATCH_REASON
        and row.anomaly != ANOTHER_ORPHAN
        and _ANOTHER_SAID not in row.anomaly_detail
    )


class OrphanMatcher:
    def __init__(self, settler: Settler, *, now: Callable[[], datetime]) -> None:
        self.settler = settler
        self.ledger = settler.ledger
        self.store = settler.store
        self._now = now

    async def resolve(self, attempt_id: str) -> Resolution:
        """One look at the relay's orphans for this attempt: to settle it (unknown, no CheckoutRequestID),
        or, once settled from one, for a second one to flag; DONE for any other attempt."""
        row = await self.store.get_attempt(attempt_id)
        if row is None or self.settler.relay.client is None:
            return Resolution.DONE
        if looks_for_orphans(row):
            return await self._match(row)
        if watches_for_another_orphan(row):
            return await self._watch(row)
        return Resolution.DONE

    async def _candidates(self, row: PaymentAttempt) -> tuple[list[Orphan], bool, list[str]] | None:
        """This attempt's possible results at the relay that no attempt of this till holds (paid, with a
        receipt), whether there are more, and the other attempts that could own them; None when the relay
        did not answer."""
        client = self.settler.relay.client
        assert client is not None
        since, until = window(row)
        try:
            orphans, more = await client.orphans(
                amount_kes=row.amount_kes, phone=row.phone, since=since, until=until
            )
        except RelayError as error:
            log.info("orphan look-up for attempt %s deferred: %s", row.id, error)
            return None
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
        return candidates, more, rivals

    async def _match(self, row: PaymentAttempt) -> Resolution:
        found = await self._candidates(row)
        if found is None:
            return Resolution.LATER
        candidates, more, rivals = found
        if not candidates:
            return Resolution.LATER if self._now() < window(row)[1] else Resolution.DONE
        if len(candidates) == 1 and not more and not rivals:
            return await self._settle(row, candidates[0])
        await self._ask_the_owner(row, candidates, more, rivals)
        return Resolution.AMBIGUOUS

    async def _watch(self, row: PaymentAttempt) -> Resolution:
        found = await self._candidates(row)
        if found is None:
            return Resolution.LATER
        candidates, more, rivals = found
        window_open = self._now() < window(row)[1]
        if candidates and rivals and window_open:
            # Another attempt of this amount and phone is still looking: the result may be its own.
            return Resolution.LATER
        if candidates:
            await self._flag_another(row, candidates, more)
            return Resolution.DONE
        return Resolution.LATER if window_open else Resolution.DONE

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

    async def _flag_another(self, row: PaymentAttempt, candidates: list[Orphan], more: bool) -> None:
        receipts = ", ".join(orphan.receipt for orphan in candidates) + (", …" if more else "")
        sentence = (
            f"{_ANOTHER_SAID} {len(candidates)}{'+' if more else ''} more paid M-Pesa result(s) of "
            f"KES {row.amount_kes} from {mask_msisdn(row.phone)} reached the relay with no CheckoutRequestID "
            f"known ({receipts}) after this attempt was settled from receipt {row.receipt}: the customer "
            "may have paid twice, or the match was another sale's; check the customer's SMS"
        )
        changes: dict[str, str] = (
            {"anomaly": ANOTHER_ORPHAN, "anomaly_detail": sentence}
            if row.anomaly is None
            # Already flagged for something else, which stays; this is said beside it.
            else {"anomaly_detail": f"{row.anomaly_detail}; {sentence}" if row.anomaly_detail else sentence}
        )
        await self.ledger.note(
            row.id,
            changes,
            actor="relay",
            action=ANOTHER_ORPHAN,
            detail={"candidates": len(candidates), "more": more, "receipts": receipts},
            announce=True,
        )
        log.warning("attempt %s: %s", row.id, sentence)
