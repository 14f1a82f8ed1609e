"""Resolving an unknown attempt that never learned its CheckoutRequestID from the relay's orphans
(pos_app/engine/orphans.py), one look-up at a time, and the watch that follows a match for a second paid
orphan: the real relay under uvicorn, the real simulator, the till's real store. The kill drills that lead
here are in test_recovery.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx

from daraja_core.contract import Orphan
from pos_app.engine.orphans import ANOTHER_ORPHAN, WINDOW_AFTER_S, OrphanMatcher, Resolution, window
from pos_app.engine.service import TillService
from pos_app.engine.states import ORPHAN_MATCH_REASON, State
from pos_app.engine.views import AttemptView
from relay.models import utcnow
from relay.simulate import stk_callback_bytes
from tests.engine.conftest import FAST, Rig, RigFactory, eventually


async def test_no_fitting_orphan_keeps_it_unknown_and_looks_again_until_its_window_closes(
    rig_factory: RigFactory,
) -> None:
    # The push's answer never comes back in time, and the customer has not answered yet.
    rig = await rig_factory(push_response_delay_s=1.0, callback_delay_s=60.0)
    till = await rig.open(timings=replace(FAST, daraja_timeout_s=0.5))
    view = await till.charge(10, "0711000008")
    assert (view.state, view.checkout_request_id) == (State.UNKNOWN, None)
    # Results on this till's path that are not it: another amount, a cancellation (no amount or phone).
    async with httpx.AsyncClient(timeout=10) as http:
        for body in (
            stk_callback_bytes("ws_CO_OTHER_AMOUNT", amount=20, phone="254711000008"),
            stk_callback_bytes("ws_CO_CANCELLED", result_code=1032),
        ):
            assert (await http.post(rig.callback_url, content=body)).status_code == 200
    now = utcnow()
    assert await OrphanMatcher(till.settler, now=lambda: now).resolve(view.attempt_id) is Resolution.LATER
    later = now + timedelta(seconds=WINDOW_AFTER_S + 1)
    assert await OrphanMatcher(till.settler, now=lambda: later).resolve(view.attempt_id) is Resolution.DONE
    after = await till.attempt(view.attempt_id)
    assert (after.state, after.anomaly, after.receipt) == (State.UNKNOWN, None, None)
    actions = [entry["action"] for entry in await till.audit_trail(view.attempt_id)]
    assert "matched_orphan" not in actions and "orphans_ambiguous" not in actions


async def _settled_from_its_one_orphan(rig: Rig, till: TillService) -> AttemptView:
    """The push's answer never reaches the till (its own timeout): unknown, no CheckoutRequestID; the
    customer pays, the callback reaches the relay unclaimed, and the reconciler settles from it."""
    view = await till.charge(10, "0711000008")
    assert (view.state, view.checkout_request_id) == (State.UNKNOWN, None)
    paid = await till.ledger.wait_for(view.attempt_id, lambda v: v.state == State.PAID, 10.0)
    assert paid.reason == ORPHAN_MATCH_REASON
    # Registered at the relay, so the orphan it settled from is taken: no other look-up finds it.
    await eventually(lambda: _relay_payment_completed(till, view.attempt_id))
    assert await _orphans_at_relay(till) == []
    return paid


async def _pay_again(rig: Rig, phone: str = "254711000008") -> str:
    """The customer answers a second prompt for the same sale: another paid result of the same amount and
    phone on this till's path, for a CheckoutRequestID the till never learned."""
    async with httpx.AsyncClient(timeout=10) as http:
        body = stk_callback_bytes("ws_CO_PAID_AGAIN", amount=10, phone=phone, receipt="TKL9990002")
        assert (await http.post(rig.callback_url, content=body)).status_code == 200
    return "TKL9990002"


async def _flagged_and_unchanged(till: TillService, paid: AttemptView) -> None:
    flagged = await till.ledger.wait_for(paid.attempt_id, lambda v: v.anomaly is not None, 10.0)
    assert flagged.anomaly == ANOTHER_ORPHAN
    # The money and the status stay as the first match left them: nothing is settled twice.
    assert (flagged.state, flagged.receipt, flagged.checkout_request_id, flagged.method) == (
        State.PAID,
        paid.receipt,
        paid.checkout_request_id,
        paid.method,
    )
    assert (flagged.amount_kes, flagged.reason) == (paid.amount_kes, ORPHAN_MATCH_REASON)
    row = await till.store.get_attempt(paid.attempt_id)
    assert row is not None and "TKL9990002" in row.anomaly_detail
    actions = [entry["action"] for entry in await till.audit_trail(paid.attempt_id)]
    assert actions.count("matched_orphan") == 1 and actions.count(ANOTHER_ORPHAN) == 1
    # The owner sees it under To review; the second result stays nobody's at the relay.
    assert paid.attempt_id in [view.attempt_id for view in (await till.day_report()).anomalies]
    assert [orphan.checkout_request_id for orphan in await _orphans_at_relay(till)] == ["ws_CO_PAID_AGAIN"]


async def test_a_second_paid_orphan_after_the_match_flags_the_attempt_for_the_owner(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(push_response_delay_s=1.0, callback_delay_s=0.1)
    till = await rig.open(timings=replace(FAST, daraja_timeout_s=0.5))
    paid = await _settled_from_its_one_orphan(rig, till)
    await _pay_again(rig)
    await _flagged_and_unchanged(till, paid)
    assert (await rig.daraja_calls())["pushes"] == 1


async def test_a_second_paid_orphan_that_came_while_the_till_was_closed_is_flagged_on_start(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(push_response_delay_s=1.0, callback_delay_s=0.1)
    timings = replace(FAST, daraja_timeout_s=0.5)
    till = await rig.open(timings=timings)
    paid = await _settled_from_its_one_orphan(rig, till)
    await till.close()
    rig.services.remove(till)
    await _pay_again(rig)
    again = await rig.open(timings=timings)
    await _flagged_and_unchanged(again, paid)


async def test_the_watch_leaves_another_attempts_orphan_to_it_and_ends_with_the_window(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(push_response_delay_s=1.0, callback_delay_s=0.1)
    till = await rig.open(timings=replace(FAST, daraja_timeout_s=0.5))
    first = await _settled_from_its_one_orphan(rig, till)
    await till.reconciler.close()  # each look-up below is made by hand, in order
    # A later sale of the same amount and phone loses its push's answer too; its result is an orphan.
    second = await till.charge(10, "0711000008")
    assert (second.state, second.checkout_request_id) == (State.UNKNOWN, None)
    [_, second_checkout_id] = await rig.pushed_checkout_ids()
    await rig.callbacks_delivered(second_checkout_id)
    matcher = OrphanMatcher(till.settler, now=utcnow)
    # Watching the first: that orphan may be the second attempt's own, still looked for: not flagged yet.
    assert await matcher.resolve(first.attempt_id) is Resolution.LATER
    assert await matcher.resolve(second.attempt_id) is Resolution.SETTLED
    assert await matcher.resolve(first.attempt_id) is Resolution.LATER  # taken: nothing to flag
    row = await till.store.get_attempt(first.attempt_id)
    assert row is not None
    closed = window(row)[1] + timedelta(seconds=1)
    assert await OrphanMatcher(till.settler, now=lambda: closed).resolve(first.attempt_id) is Resolution.DONE
    for attempt_id, checkout_id in (
        (first.attempt_id, first.checkout_request_id),
        (second.attempt_id, second_checkout_id),
    ):
        after = await till.attempt(attempt_id)
        assert (after.state, after.anomaly, after.checkout_request_id) == (State.PAID, None, checkout_id)
    actions = [entry["action"] for entry in await till.audit_trail(first.attempt_id)]
    assert ANOTHER_ORPHAN not in actions


async def test_an_attempt_settled_otherwise_is_never_compared_with_orphans(rig_factory: RigFactory) -> None:
    # An attempt paid with its own CheckoutRequestID: an unclaimed result of its amount and phone is some
    # other payment's, not a second payment of this one.
    rig = await rig_factory(callback_delay_s=0.1)
    till = await rig.open()
    view = await till.charge(10, "0708374149")
    paid = await till.ledger.wait_for(view.attempt_id, lambda v: v.receipt is not None, 10.0)
    assert paid.state == State.PAID and paid.checkout_request_id
    assert paid.reason != ORPHAN_MATCH_REASON
    await _pay_again(rig, "254708374149")
    orphans = await _orphans_at_relay(till, "254708374149")
    assert [orphan.checkout_request_id for orphan in orphans] == ["ws_CO_PAID_AGAIN"]
    assert await OrphanMatcher(till.settler, now=utcnow).resolve(view.attempt_id) is Resolution.DONE
    after = await till.attempt(view.attempt_id)
    assert (after.state, after.anomaly, after.receipt) == (State.PAID, None, paid.receipt)


async def _orphans_at_relay(till: TillService, phone: str = "254711000008") -> list[Orphan]:
    assert till.relay is not None
    now = utcnow()
    orphans, _ = await till.relay.orphans(
        amount_kes=10, phone=phone, since=now - timedelta(hours=1), until=now + timedelta(minutes=1)
    )
    return [orphan for orphan in orphans if orphan.result_code == "0"]


async def _relay_payment_completed(till: TillService, attempt_id: str) -> bool:
    assert till.relay is not None
    payment = await till.relay.status(attempt_id)
    return payment is not None and payment.status == "completed"
