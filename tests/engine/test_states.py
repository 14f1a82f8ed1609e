"""The attempt state machine on its own: pure, no store, no clock (pos_app/engine/states.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daraja_core.results import Outcome
from pos_app.engine.states import (
    DeadlinePassed,
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


def accepted() -> PushAccepted:
    return PushAccepted(
        at=AT,
        merchant_request_id="m",
        checkout_request_id="ws_CO_1",
        wait_deadline_at=AT + timedelta(seconds=90),
    )


def result(
    code: str, receipt: str | None = None, method: Method = Method.STK, anomaly: str | None = None
) -> ResultReported:
    return ResultReported(
        at=AT, result_code=code, result_desc="desc", method=method, receipt=receipt, relay_anomaly=anomaly
    )


def test_accepted_push_moves_created_to_prompt_sent_with_the_ids_and_deadline() -> None:
    decision = decide(Snapshot(State.CREATED), accepted())
    assert decision.state is State.PROMPT_SENT
    assert decision.changes["checkout_request_id"] == "ws_CO_1"
    assert decision.changes["wait_deadline_at"] == AT + timedelta(seconds=90)


def test_refused_push_fails_with_the_reason() -> None:
    decision = decide(Snapshot(State.CREATED), PushRefused(at=AT, error_code="500.001.1001", reason="locked"))
    assert decision.state is State.FAILED
    assert decision.changes["outcome"] == Outcome.REJECTED
    assert decision.changes["reason"] == "locked"


@pytest.mark.parametrize("event", [PushOutcomeUnknown(at=AT, reason="timeout"), FoundUnfinished(at=AT)])
def test_a_push_that_may_have_gone_out_makes_the_attempt_unknown(event: object) -> None:
    decision = decide(Snapshot(State.CREATED), event)  # type: ignore[arg-type]
    assert decision.state is State.UNKNOWN


def test_paid_result_settles_a_waiting_attempt_with_receipt_and_method() -> None:
    decision = decide(Snapshot(State.PROMPT_SENT), result("0", "NLJ7RT61SV"))
    assert decision.state is State.PAID
    assert decision.changes["receipt"] == "NLJ7RT61SV"
    assert decision.changes["method"] == Method.STK


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("1032", Outcome.CANCELLED),
        ("1", Outcome.INSUFFICIENT_FUNDS),
        ("2001", Outcome.WRONG_PIN),
        ("1037", Outcome.UNREACHABLE),
    ],
)
def test_failure_codes_fail_a_waiting_attempt_with_their_outcome(code: str, outcome: Outcome) -> None:
    decision = decide(Snapshot(State.PROMPT_SENT), result(code))
    assert decision.state is State.FAILED
    assert decision.changes["outcome"] == outcome


def test_deadline_makes_a_waiting_attempt_unknown_and_is_a_no_op_afterwards() -> None:
    assert decide(Snapshot(State.PROMPT_SENT), DeadlinePassed(at=AT)).state is State.UNKNOWN
    for state in (State.UNKNOWN, State.PAID, State.FAILED):
        assert not decide(Snapshot(state), DeadlinePassed(at=AT)).changed


@pytest.mark.parametrize(("code", "state"), [("0", State.PAID), ("1032", State.FAILED)])
def test_unknown_can_still_become_paid_or_failed(code: str, state: State) -> None:
    assert decide(Snapshot(State.UNKNOWN), result(code, "NLJ7RT61SV" if code == "0" else None)).state is state


def test_the_same_result_twice_changes_nothing() -> None:
    snapshot = Snapshot(State.PAID, receipt="NLJ7RT61SV", result_code="0")
    assert not decide(snapshot, result("0", "NLJ7RT61SV")).changed
    assert not decide(Snapshot(State.FAILED, result_code="1032"), result("1032")).changed


def test_a_receipt_arriving_after_a_query_settlement_fills_in_without_a_state_change() -> None:
    decision = decide(Snapshot(State.PAID, method=Method.STK_QUERY), result("0", "NLJ7RT61SV"))
    assert decision.state is State.PAID
    assert decision.changes["receipt"] == "NLJ7RT61SV"
    assert "state" not in decision.changes


def test_paid_is_final_a_contradicting_failure_becomes_an_anomaly() -> None:
    decision = decide(Snapshot(State.PAID, receipt="NLJ7RT61SV"), result("1032"))
    assert decision.state is State.PAID
    assert "state" not in decision.changes
    assert decision.changes["anomaly"] == "contradicting_result"


def test_paid_is_final_another_receipt_becomes_an_anomaly() -> None:
    decision = decide(Snapshot(State.PAID, receipt="NLJ7RT61SV"), result("0", "OFU5DL9GRT"))
    assert decision.changes["anomaly"] == "contradicting_result"
    assert "receipt" not in decision.changes


def test_paid_after_failed_is_an_anomaly_for_the_owner_not_a_silent_flip() -> None:
    decision = decide(Snapshot(State.FAILED, result_code="1037"), result("0", "NLJ7RT61SV"))
    assert decision.state is State.FAILED
    assert decision.changes["anomaly"] == "paid_after_failed"


def test_a_callback_the_relay_flags_never_pays() -> None:
    decision = decide(Snapshot(State.PROMPT_SENT), result("0", "NLJ7RT61SV", anomaly="amount_mismatch"))
    assert decision.state is State.PROMPT_SENT
    assert decision.changes["anomaly"] == "amount_mismatch"
    assert not decide(
        Snapshot(State.PROMPT_SENT, anomaly="amount_mismatch"), result("0", "X", anomaly="amount_mismatch")
    ).changed


def test_still_processing_is_not_a_result() -> None:
    assert not decide(Snapshot(State.PROMPT_SENT), result("4999", method=Method.STK_QUERY)).changed


def test_an_unrecognised_code_is_never_paid_or_failed() -> None:
    assert decide(Snapshot(State.PROMPT_SENT), result("E9999")).state is State.UNKNOWN


def test_manual_receipt_pays_an_unknown_attempt_and_is_refused_on_a_paid_one() -> None:
    entry = ManualReceiptEntered(at=AT, receipt="NLJ7RT61SV", verified=True, reason="ok", by="owner")
    decision = decide(Snapshot(State.UNKNOWN), entry)
    assert decision.state is State.PAID
    assert decision.changes["method"] == Method.MANUAL
    assert decision.changes["manual_verified"] is True
    with pytest.raises(IllegalTransition):
        decide(Snapshot(State.PAID), entry)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (State.PROMPT_SENT, accepted()),
        (State.PAID, accepted()),
        (State.UNKNOWN, PushRefused(at=AT, error_code="x", reason="y")),
        (State.FAILED, PushOutcomeUnknown(at=AT, reason="x")),
        (State.CREATED, result("0", "NLJ7RT61SV")),
        (State.CREATED, DeadlinePassed(at=AT)),
    ],
)
def test_illegal_moves_raise(state: State, event: object) -> None:
    with pytest.raises(IllegalTransition):
        decide(Snapshot(state), event)  # type: ignore[arg-type]
