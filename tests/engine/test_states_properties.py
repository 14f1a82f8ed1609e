"""Properties of the attempt state machine (pos_app/engine/states.py `decide`) over generated attempts and
events: what must hold whatever order results arrive in, however often, whatever code they carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from daraja_core.results import PAID_CODE, classify, known_codes
from pos_app.engine.states import (
    FINAL_STATES,
    DeadlinePassed,
    Decision,
    Event,
    FoundUnfinished,
    IllegalTransition,
    ManualReceiptEntered,
    Method,
    PushAccepted,
    PushOutcomeUnknown,
    PushRefused,
    ResultReported,
    Snapshot,
    State,
    decide,
)

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
ANOMALIES = ["amount_mismatch", "phone_mismatch", "contradicting_result", "paid_after_failed"]

receipts = st.from_regex(r"[A-Z0-9]{10}", fullmatch=True)
known = st.sampled_from(sorted(known_codes()))
# Codes the catalogue does not know: other numbers, other strings (Daraja adds codes without notice).
unknown = st.one_of(st.integers(-(10**6), 10**9).map(str), st.text(max_size=12)).filter(
    lambda code: code.strip() not in known_codes()
)
codes = st.one_of(known, unknown)
moments = st.integers(0, 10**6).map(lambda s: AT + timedelta(seconds=s))

snapshots = st.builds(
    Snapshot,
    state=st.sampled_from(State),
    receipt=st.none() | receipts,
    result_code=st.none() | codes,
    method=st.sampled_from(Method),
    amount_kes=st.integers(1, 250_000),
    anomaly=st.none() | st.sampled_from(ANOMALIES),
)


def results_with(code: st.SearchStrategy[str]) -> st.SearchStrategy[ResultReported]:
    return st.builds(
        ResultReported,
        at=moments,
        result_code=code,
        result_desc=st.text(max_size=20),
        method=st.sampled_from([Method.STK, Method.STK_QUERY]),
        receipt=st.none() | receipts,
        paid_amount_kes=st.none() | st.integers(0, 250_000),
        relay_anomaly=st.none() | st.sampled_from(["amount_mismatch", "phone_mismatch"]),
    )


results = results_with(codes)
events: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        PushAccepted,
        at=moments,
        merchant_request_id=st.text(min_size=1, max_size=12),
        checkout_request_id=st.text(min_size=1, max_size=30),
        wait_deadline_at=moments,
    ),
    st.builds(PushRefused, at=moments, error_code=st.text(max_size=12), reason=st.text(max_size=20)),
    st.builds(PushOutcomeUnknown, at=moments, reason=st.text(max_size=20)),
    st.builds(FoundUnfinished, at=moments),
    st.builds(DeadlinePassed, at=moments),
    results,
    st.builds(
        ManualReceiptEntered,
        at=moments,
        receipt=receipts,
        verified=st.booleans(),
        reason=st.text(max_size=20),
        by=st.just("owner"),
    ),
)


def decided(snapshot: Snapshot, event: Event) -> Decision | None:
    """The decision, or None for an IllegalTransition: the only error `decide` may raise."""
    try:
        return decide(snapshot, event)
    except IllegalTransition:
        return None


def applied(snapshot: Snapshot, decision: Decision) -> Snapshot:
    """The attempt after the ledger stored `decision` (what `decide` reads of it)."""
    changes = decision.changes
    return Snapshot(
        state=decision.state,
        receipt=changes.get("receipt", snapshot.receipt),
        result_code=changes.get("result_code", snapshot.result_code),
        method=changes.get("method", snapshot.method),
        amount_kes=snapshot.amount_kes,
        anomaly=changes.get("anomaly", snapshot.anomaly),
    )


@given(snapshots, events)
def test_decide_raises_nothing_but_an_illegal_transition(snapshot: Snapshot, event: Event) -> None:
    decided(snapshot, event)


@given(snapshots.filter(lambda s: s.state in FINAL_STATES), events)
def test_a_final_state_never_goes_back_to_pending_and_paid_stays_paid(
    snapshot: Snapshot, event: Event
) -> None:
    decision = decided(snapshot, event)
    if decision is None:
        return
    assert decision.state in FINAL_STATES
    if snapshot.state is State.PAID:
        assert decision.state is State.PAID


@given(snapshots.filter(lambda s: s.state is not State.PAID), events)
def test_paid_comes_only_from_a_paid_result_code_or_a_receipt_typed_by_the_owner(
    snapshot: Snapshot, event: Event
) -> None:
    decision = decided(snapshot, event)
    if decision is None or decision.state is not State.PAID:
        return
    if isinstance(event, ResultReported):
        assert classify(event.result_code).paid
        assert not event.relay_anomaly
        assert decision.changes["result_code"] == PAID_CODE
    else:
        assert isinstance(event, ManualReceiptEntered)


@given(snapshots, results_with(unknown))
def test_an_unknown_code_is_never_paid_and_never_a_failure(snapshot: Snapshot, event: ResultReported) -> None:
    decision = decided(snapshot, event)
    if decision is None:
        return
    assert decision.state in (snapshot.state, State.UNKNOWN)
    assert decision.changes.get("state") in (None, State.UNKNOWN)


@given(snapshots, events)
def test_no_decision_touches_the_amount_and_changes_agree_with_the_state(
    snapshot: Snapshot, event: Event
) -> None:
    decision = decided(snapshot, event)
    if decision is None:
        return
    assert not any("amount" in key for key in decision.changes)
    if decision.state is not snapshot.state:
        assert decision.changes["state"] is decision.state
        assert decision.action
    if not decision.changed:
        assert decision.state is snapshot.state and decision.action == ""


@given(
    snapshots.filter(lambda s: s.state is not State.CREATED),
    st.one_of(results, st.builds(DeadlinePassed, at=moments)),
)
def test_the_same_fact_twice_changes_nothing_the_second_time(snapshot: Snapshot, event: Event) -> None:
    first = decided(snapshot, event)
    if first is None:
        return
    second = decide(applied(snapshot, first), event)
    assert not second.changed
    assert second.state is first.state


@given(results)
def test_no_result_applies_to_an_attempt_whose_push_has_not_been_answered(event: ResultReported) -> None:
    assert decided(Snapshot(State.CREATED), event) is None
