"""The payment attempt's state machine: pure, no I/O, no clock.

    created ──push accepted──▶ prompt_sent ──result──▶ paid | failed(reason)
       │  └─push refused──▶ failed            └─deadline──▶ unknown ──late result──▶ paid | failed
       └──push outcome unknown / found on restart──▶ unknown

- Paid is final. A later result that contradicts it (a failure code, another receipt) does not move the
  state: it becomes an anomaly for the owner ("never a silent flip").
- Failed is final for results too: a later "paid" for a failed attempt means money moved after the
  screen said it did not, which the owner must see, so it is an anomaly, not a silent flip either.
- The same fact twice (a duplicate callback, a query confirming a callback) changes nothing.
- A paid attempt settled by STK Query has no receipt (docs/daraja.md §3); the callback's receipt
  fills it in later without another state change.
- An unknown attempt that never learned its CheckoutRequestID (the till died with the push out) turns
  paid from the one orphan result the relay holds for its amount and phone (`OrphanMatched`), and says so.
- Anything else raises IllegalTransition.

`decide(attempt, event)` returns a Decision: the new state and field changes, or `None` changes for a
no-op. The engine's `Ledger.apply` persists the decision, then announces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from daraja_core.results import PAID_CODE, Outcome, classify


class State(StrEnum):
    CREATED = "created"
    PROMPT_SENT = "prompt_sent"
    PAID = "paid"
    FAILED = "failed"
    UNKNOWN = "unknown"


FINAL_STATES = frozenset({State.PAID, State.FAILED})
IN_FLIGHT_STATES = frozenset({State.CREATED, State.PROMPT_SENT})


class Method(StrEnum):
    STK = "stk"  # the callback, through the relay
    STK_QUERY = "stk_query"  # Daraja's STK Query answer
    MANUAL = "manual"  # the owner typed the receipt from the customer's SMS
    C2B = "c2b"  # the customer paid the till number; the cashier claimed it (paid_to_till.py)
    CASH = "cash"  # the cashier took cash for the sale (cash.py)
    QR = "qr"  # the customer scanned the sale's Dynamic QR and paid (qr_tender.py)


class IllegalTransition(RuntimeError):
    def __init__(self, state: str, event: Event) -> None:
        super().__init__(f"{type(event).__name__} is not allowed in state {state!r}")
        self.state = state
        self.event = event


@dataclass(frozen=True)
class Snapshot:
    """What the machine needs to know about an attempt."""

    state: State
    receipt: str | None = None
    result_code: str | None = None
    method: str = Method.STK
    amount_kes: int = 0
    anomaly: str | None = None


# --- events ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    at: datetime


@dataclass(frozen=True)
class PushAccepted(Event):
    merchant_request_id: str
    checkout_request_id: str
    wait_deadline_at: datetime


@dataclass(frozen=True)
class PushRefused(Event):
    """Daraja proved it did not send a prompt (validation error, credentials, unable to lock subscriber)."""

    error_code: str
    reason: str


@dataclass(frozen=True)
class PushOutcomeUnknown(Event):
    """The push may be on the phone: timeout after sending, dropped connection, 5xx. Never retried."""

    reason: str


@dataclass(frozen=True)
class FoundUnfinished(Event):
    """On start, an attempt still in `created`: the process died around the push, which may have gone out."""

    reason: str = "The till stopped while sending the prompt; it may have reached the phone."


@dataclass(frozen=True)
class DeadlinePassed(Event):
    pass


@dataclass(frozen=True)
class ResultReported(Event):
    """A result from the relay (callback) or from STK Query."""

    result_code: str
    result_desc: str
    method: Method
    receipt: str | None = None
    paid_amount_kes: int | None = None
    #: The relay's own verdict that the callback does not match the registered payment (§5: forged or wrong).
    relay_anomaly: str | None = None


#: The attempt's reason once an orphan settled it (history shows it; Swahili in pos_app/ui/strings.py).
ORPHAN_MATCH_REASON = "Matched by amount and phone after a restart."


@dataclass(frozen=True)
class OrphanMatched(Event):
    """The attempt never learned its CheckoutRequestID; the relay holds exactly one paid result on this
    till's own callback path that nobody registered, of its amount and phone (pos_app/engine/orphans.py)."""

    checkout_request_id: str
    receipt: str
    result_desc: str


@dataclass(frozen=True)
class ManualReceiptEntered(Event):
    receipt: str
    verified: bool
    reason: str
    by: str


# --- decisions -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    state: State
    changes: dict[str, Any] = field(default_factory=dict)
    action: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _no_change(snapshot: Snapshot) -> Decision:
    return Decision(snapshot.state)


def _anomaly(snapshot: Snapshot, kind: str, detail: str, at: datetime) -> Decision:
    return Decision(
        snapshot.state, {"anomaly": kind, "anomaly_detail": detail, "updated_at": at}, action="anomaly"
    )


def decide(snapshot: Snapshot, event: Event) -> Decision:
    state = snapshot.state
    at = event.at
    if isinstance(event, PushAccepted):
        if state is not State.CREATED:
            raise IllegalTransition(state, event)
        return Decision(
            State.PROMPT_SENT,
            {
                "state": State.PROMPT_SENT,
                "merchant_request_id": event.merchant_request_id,
                "checkout_request_id": event.checkout_request_id,
                "prompt_sent_at": at,
                "wait_deadline_at": event.wait_deadline_at,
                "updated_at": at,
            },
            action="prompt_sent",
        )
    if isinstance(event, PushRefused):
        if state is not State.CREATED:
            raise IllegalTransition(state, event)
        return Decision(
            State.FAILED,
            {
                "state": State.FAILED,
                "outcome": Outcome.REJECTED,
                "result_code": event.error_code,
                "result_desc": event.reason,
                "reason": event.reason,
                "settled_at": at,
                "updated_at": at,
            },
            action="push_refused",
        )
    if isinstance(event, PushOutcomeUnknown | FoundUnfinished):
        if state is not State.CREATED:
            raise IllegalTransition(state, event)
        return Decision(
            State.UNKNOWN,
            {"state": State.UNKNOWN, "reason": event.reason, "updated_at": at},
            action="push_outcome_unknown" if isinstance(event, PushOutcomeUnknown) else "found_unfinished",
        )
    if isinstance(event, DeadlinePassed):
        if state is State.PROMPT_SENT:
            return Decision(
                State.UNKNOWN,
                {"state": State.UNKNOWN, "reason": "No answer from M-Pesa in time.", "updated_at": at},
                action="deadline_passed",
            )
        if state in (State.UNKNOWN, *FINAL_STATES):
            return _no_change(snapshot)
        raise IllegalTransition(state, event)
    if isinstance(event, ResultReported):
        return _decide_result(snapshot, event)
    if isinstance(event, OrphanMatched):
        if state in FINAL_STATES:
            return _no_change(snapshot)  # settled meanwhile (the owner typed the receipt): that stands
        if state is not State.UNKNOWN:
            raise IllegalTransition(state, event)
        return Decision(
            State.PAID,
            {
                "state": State.PAID,
                "outcome": Outcome.PAID,
                "result_code": PAID_CODE,
                "result_desc": event.result_desc,
                "reason": ORPHAN_MATCH_REASON,
                "receipt": event.receipt,
                "checkout_request_id": event.checkout_request_id,
                "method": Method.STK,
                "settled_at": at,
                "updated_at": at,
            },
            action="matched_orphan",
        )
    if isinstance(event, ManualReceiptEntered):
        if state is State.PAID:
            raise IllegalTransition(state, event)
        return Decision(
            State.PAID,
            {
                "state": State.PAID,
                "outcome": Outcome.PAID,
                "receipt": event.receipt,
                "method": Method.MANUAL,
                "manual_verified": event.verified,
                "manual_reason": event.reason,
                "manual_by": event.by,
                "manual_at": at,
                "settled_at": at,
                "updated_at": at,
            },
            action="manual_receipt",
        )
    raise IllegalTransition(state, event)


def _decide_result(snapshot: Snapshot, event: ResultReported) -> Decision:
    state = snapshot.state
    at = event.at
    info = classify(event.result_code)
    if state is State.CREATED:
        # No CheckoutRequestID is stored yet, so no result can be about this attempt.
        raise IllegalTransition(state, event)
    if info.code in ("4999",):
        # "Still processing" is not a result (docs/daraja.md §3); callers filter it, this is the guard.
        return _no_change(snapshot)
    if event.relay_anomaly:
        # The relay saw a callback that does not match what was registered (amount or phone, or a forged
        # one, docs/daraja.md §5): it never settles the attempt either way; the owner sees it.
        if snapshot.anomaly == event.relay_anomaly:
            return _no_change(snapshot)
        return _anomaly(
            snapshot,
            event.relay_anomaly,
            f"callback with code {info.code} ({event.receipt or 'no receipt'}, "
            f"{event.paid_amount_kes if event.paid_amount_kes is not None else '?'} KES) "
            f"does not match: {event.relay_anomaly}",
            at,
        )
    if info.outcome is Outcome.PAID:
        if state is State.PAID:
            if event.receipt and snapshot.receipt is None:
                return Decision(state, {"receipt": event.receipt, "updated_at": at}, action="receipt_learned")
            if event.receipt and snapshot.receipt and event.receipt != snapshot.receipt:
                if snapshot.anomaly == "contradicting_result":
                    return _no_change(snapshot)
                return _anomaly(
                    snapshot,
                    "contradicting_result",
                    f"second paid result with receipt {event.receipt}, kept {snapshot.receipt}",
                    at,
                )
            return _no_change(snapshot)
        if state is State.FAILED:
            if snapshot.anomaly == "paid_after_failed":
                return _no_change(snapshot)
            return _anomaly(
                snapshot,
                "paid_after_failed",
                f"M-Pesa reported paid ({event.receipt or 'no receipt'}) after the attempt had failed "
                f"with code {snapshot.result_code}",
                at,
            )
        return Decision(
            State.PAID,
            {
                "state": State.PAID,
                "outcome": Outcome.PAID,
                "result_code": PAID_CODE,
                "result_desc": event.result_desc,
                "reason": "",
                "receipt": event.receipt,
                "method": event.method,
                "settled_at": at,
                "updated_at": at,
            },
            action="paid",
        )
    # A failure, or a code the catalogue does not know (UNKNOWN: never paid, never a failure to retry on).
    if state is State.PAID:
        if snapshot.anomaly == "contradicting_result":
            return _no_change(snapshot)
        return _anomaly(
            snapshot,
            "contradicting_result",
            f"result code {info.code} arrived after the attempt was paid "
            f"({snapshot.receipt or 'no receipt'})",
            at,
        )
    if state is State.FAILED:
        return _no_change(snapshot)
    if info.outcome is Outcome.UNKNOWN:
        if state is State.UNKNOWN:
            return _no_change(snapshot)
        return Decision(
            State.UNKNOWN,
            {
                "state": State.UNKNOWN,
                "result_code": info.code,
                "result_desc": event.result_desc,
                "reason": info.message_en,
                "updated_at": at,
            },
            action="unrecognised_result",
        )
    return Decision(
        State.FAILED,
        {
            "state": State.FAILED,
            "outcome": info.outcome,
            "result_code": info.code,
            "result_desc": event.result_desc,
            "reason": info.message_en,
            "method": event.method,
            "settled_at": at,
            "updated_at": at,
        },
        action="failed",
    )
