"""Every simulator scenario through the whole till: TillService → DarajaClient → the REAL simulator, whose
callbacks go to the REAL relay (uvicorn on loopback), which the till waits on. Daraja calls per payment
are read from the simulator's log and printed (`-s`) for the closing note."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from daraja_core.results import NextStep, Outcome
from pos_app.engine.errors import ChargeRefused
from pos_app.engine.views import AlertCode
from tests.engine.conftest import Recorder, Rig, RigFactory, eventually, settle


def report_calls(scenario: str, calls: dict[str, int]) -> None:
    print(f"\nDARAJA CALLS {scenario}: {calls}")


async def test_paid_settles_from_the_relay_callback_with_its_receipt(rig: Rig) -> None:
    till = await rig.open()
    recorder = Recorder(till)
    view = await till.charge(10, "0708374149", "bread")
    assert view.state == "prompt_sent"
    assert view.checkout_request_id and view.wait_deadline_at is not None
    final = await settle(till, view.attempt_id)
    assert final.state == "paid"
    assert final.method == "stk"
    assert final.receipt is not None and len(final.receipt) == 10
    assert final.outcome is Outcome.PAID
    assert recorder.states(view.attempt_id) == ["created", "prompt_sent", "paid"]
    calls = await rig.daraja_calls(view.checkout_request_id)
    report_calls("254708374149 paid", calls)
    assert calls["pushes"] == 1 and calls["tokens"] == 1


FAILURES = [
    ("0711000001", Outcome.CANCELLED, "1032", NextStep.RETRY),
    ("0711000002", Outcome.INSUFFICIENT_FUNDS, "1", NextStep.TAKE_CASH),
    ("0711000003", Outcome.WRONG_PIN, "2001", NextStep.RETRY),
    ("0711000004", Outcome.UNREACHABLE, "1037", NextStep.RETRY),
    ("0711000010", Outcome.EXPIRED, "1019", NextStep.RETRY),
    ("0711000011", Outcome.LIMIT, "17", NextStep.CHECK_SMS),
]


@pytest.mark.parametrize(
    ("phone", "outcome", "code", "next_step"), FAILURES, ids=[f[1].value for f in FAILURES]
)
async def test_each_failure_settles_as_failed_with_its_reason_and_next_step(
    rig: Rig, phone: str, outcome: Outcome, code: str, next_step: NextStep
) -> None:
    till = await rig.open()
    view = await till.charge(25, phone)
    final = await settle(till, view.attempt_id)
    assert final.state == "failed"
    assert final.outcome is outcome
    assert final.result_code == code
    assert final.next_step is next_step
    assert final.message_en and final.message_sw and final.message_en != final.message_sw
    assert final.receipt is None
    calls = await rig.daraja_calls(view.checkout_request_id)
    report_calls(f"{phone} {outcome.value}", calls)
    assert calls["pushes"] == 1


async def test_callback_never_sent_is_settled_by_stk_query_without_a_receipt(rig: Rig) -> None:
    till = await rig.open()
    view = await till.charge(40, "0711000005")
    final = await settle(till, view.attempt_id)
    assert final.state == "paid"
    assert final.method == "stk_query"
    assert final.receipt is None  # STK Query returns no receipt (docs/daraja.md §3)
    calls = await rig.daraja_calls(view.checkout_request_id)
    report_calls("254711000005 paid, no callback", calls)
    assert calls["pushes"] == 1
    assert 1 <= calls["queries"] <= 4


async def test_callback_sent_twice_settles_once(rig: Rig) -> None:
    till = await rig.open()
    recorder = Recorder(till)
    view = await till.charge(60, "0711000006")
    final = await settle(till, view.attempt_id)
    assert final.state == "paid" and final.receipt
    assert view.checkout_request_id is not None
    delivered = await rig.callbacks_delivered(view.checkout_request_id, count=2)
    assert [c["status"] for c in delivered] == [200, 200]
    # The relay stored the second copy as a duplicate (the first is "applied", or "orphan" when it beat the
    # till's registration); the till has applied all the relay passed on.
    statuses = await rig.relay_callback_statuses(view.checkout_request_id)
    assert len(statuses) == 2 and statuses[1] == "duplicate"
    await rig.caught_up(till)
    assert recorder.states(view.attempt_id).count("paid") == 1
    trail = await till.audit_trail(view.attempt_id)
    assert [entry["action"] for entry in trail if entry["to_state"] == "paid"] == ["paid"]
    assert (await till.attempt(view.attempt_id)).anomaly is None
    calls = await rig.daraja_calls(view.checkout_request_id)
    report_calls("254711000006 paid, callback twice", calls)


async def test_push_refused_fails_at_once_and_is_never_resent(rig: Rig) -> None:
    till = await rig.open()
    view = await till.charge(70, "0711000007")
    assert view.state == "failed"
    assert view.outcome is Outcome.REJECTED
    assert view.next_step is NextStep.RETRY
    assert "lock" in view.reason.lower()
    assert view.checkout_request_id is None
    # A later sale whose prompt never gets a callback settles only by STK Query, after the silence window:
    # by then a query or a second push caused by the refused attempt would be in the simulator's log.
    later = await till.charge(70, "0711000005")
    assert (await settle(till, later.attempt_id)).method == "stk_query"
    calls = await rig.daraja_calls()
    report_calls("254711000007 push refused (and a later sale)", calls)
    assert calls["pushes"] == 2
    assert calls["queries"] == (await rig.daraja_calls(later.checkout_request_id))["queries"]


async def test_push_answered_too_late_is_unknown_and_never_pushed_again(rig: Rig) -> None:
    till = await rig.open()
    view = await till.charge(80, "0711000008")  # the simulator holds the answer 3 s; the till waits 1.5 s
    assert view.state == "unknown"
    assert view.next_step is NextStep.CHECK_SMS
    # The prompt was on the phone; its callback reaches the relay, which cannot tell whose it is (the till
    # never learned the CheckoutRequestID) and keeps it as an orphan on this till's path. The till finds it
    # there by amount and phone: the one candidate settles the attempt (pos_app/engine/orphans.py).
    [checkout_request_id] = await rig.pushed_checkout_ids()
    await rig.callbacks_delivered(checkout_request_id)
    assert (await rig.relay_callback_statuses(checkout_request_id))[0] == "orphan"
    paid = await till.ledger.wait_for(view.attempt_id, lambda v: v.state == "paid", 10.0)
    assert (paid.checkout_request_id, paid.receipt is not None) == (checkout_request_id, True)
    calls = await rig.daraja_calls()
    report_calls("254711000008 slow push answer", calls)
    assert calls["pushes"] == 1
    with pytest.raises(ChargeRefused):
        await till.charge(80, "0711000008", sale_id=view.sale_id)


async def test_push_server_error_is_unknown_and_charging_again_needs_the_customer_confirmation(
    rig: Rig,
) -> None:
    till = await rig.open()
    view = await till.charge(90, "0711000009")
    assert view.state == "unknown"
    with pytest.raises(ChargeRefused, match="SMS"):
        await till.charge(90, "0708374149", sale_id=view.sale_id)
    again = await till.charge(90, "0708374149", sale_id=view.sale_id, customer_confirms_no_sms=True)
    assert again.sale_id == view.sale_id and again.attempt_id != view.attempt_id
    assert (await settle(till, again.attempt_id)).state == "paid"
    trail = await till.audit_trail(again.attempt_id)
    assert trail[0]["action"] == "created"
    assert trail[0]["actor"] == "cashier"
    assert trail[0]["detail"]["customer_confirms_no_sms"] is True
    calls = await rig.daraja_calls()
    report_calls("254711000009 push 500 then confirmed retry", calls)
    assert calls["pushes"] == 2


async def test_second_charge_while_one_is_waiting_is_refused(rig_factory: RigFactory) -> None:
    rig = await rig_factory(callback_delay_s=2.0)
    till = await rig.open()
    view = await till.charge(10, "0708374149", sale_id="SALE1")
    with pytest.raises(ChargeRefused, match="already"):
        await till.charge(10, "0708374149", sale_id="SALE1")
    assert (await settle(till, view.attempt_id)).state == "paid"
    with pytest.raises(ChargeRefused, match="already paid"):
        await till.charge(10, "0708374149", sale_id="SALE1")
    assert (await rig.daraja_calls())["pushes"] == 1


async def test_double_charge_at_the_same_moment_sends_one_prompt(rig: Rig) -> None:
    till = await rig.open()
    results = await asyncio.gather(
        till.charge(10, "0708374149", sale_id="SALE2"),
        till.charge(10, "0708374149", sale_id="SALE2"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, ChargeRefused) for r in results) == 1
    assert (await rig.daraja_calls())["pushes"] == 1


async def test_relay_down_falls_back_to_stk_query_and_the_receipt_follows_when_it_is_back(rig: Rig) -> None:
    gate = await rig.gate_relay()
    await gate.close()
    # Safaricom still reaches the public relay; only the till's way to it is down.
    till = await rig.open(callback_url=rig.callback_url)
    view = await till.charge(120, "0708374149")
    final = await settle(till, view.attempt_id)
    assert final.state == "paid"
    assert final.method == "stk_query"
    assert till.status().relay_connected is False
    calls = await rig.daraja_calls(view.checkout_request_id)
    report_calls("254708374149 relay down (query fallback)", calls)
    assert calls["queries"] >= 1 and calls["pushes"] == 1
    await gate.open()
    await till.ledger.wait_for(view.attempt_id, lambda v: v.receipt is not None, 10.0)
    assert (await till.attempt(view.attempt_id)).method == "stk_query"
    await eventually(lambda: _true(till.status().relay_connected))


async def _true(value: object) -> bool:
    return value is True


async def test_relay_back_later_settles_an_unknown_with_the_late_result(rig: Rig) -> None:
    gate = await rig.gate_relay()
    await gate.close()
    # No STK Query at all before the deadline, and none soon after: only the relay can settle it.
    from dataclasses import replace

    from tests.engine.conftest import FAST

    timings = replace(FAST, relay_silence_s=60.0, wait_deadline_s=1.5, reconcile_query_first_s=600.0)
    till = await rig.open(timings=timings, callback_url=rig.callback_url)
    view = await till.charge(130, "0708374149")
    unknown = await settle(till, view.attempt_id)
    assert unknown.state == "unknown"
    assert unknown.next_step is NextStep.CHECK_SMS
    await gate.open()
    paid = await till.ledger.wait_for(view.attempt_id, lambda v: v.state == "paid", 10.0)
    assert paid.receipt is not None and paid.method == "stk"
    calls = await rig.daraja_calls(view.checkout_request_id)
    report_calls("254708374149 relay back later", calls)
    assert calls["queries"] == 0 and calls["pushes"] == 1


async def test_forged_callback_with_the_wrong_amount_never_makes_a_payment_paid(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(callback_delay_s=1.5)
    till = await rig.open()
    recorder = Recorder(till)
    view = await till.charge(500, "0711000001")  # the customer will really cancel (1032)
    async with httpx.AsyncClient() as client:
        forged = {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": view.merchant_request_id,
                    "CheckoutRequestID": view.checkout_request_id,
                    "ResultCode": 0,
                    "ResultDesc": "The service request is processed successfully.",
                    "CallbackMetadata": {
                        "Item": [
                            {"Name": "Amount", "Value": 1},
                            {"Name": "MpesaReceiptNumber", "Value": "TK3FORGED1"},
                            {"Name": "TransactionDate", "Value": 20261121120000},
                            {"Name": "PhoneNumber", "Value": 254711000001},
                        ]
                    },
                }
            }
        }
        answer = await client.post(rig.callback_url, json=forged)
    assert answer.status_code == 200
    flagged = await till.ledger.wait_for(view.attempt_id, lambda v: v.anomaly is not None, 5.0)
    assert flagged.anomaly == "amount_mismatch"
    assert flagged.state == "prompt_sent"
    final = await settle(till, view.attempt_id)
    assert final.state == "failed" and final.outcome is Outcome.CANCELLED
    assert "paid" not in recorder.states(view.attempt_id)
    assert final.receipt is None


async def test_charge_is_refused_with_a_reason_when_the_relay_was_never_reached(rig: Rig) -> None:
    gate = await rig.gate_relay()
    await gate.close()
    till = await rig.open()
    with pytest.raises(ChargeRefused, match="relay"):
        await till.charge(10, "0708374149")
    assert (await rig.daraja_calls())["pushes"] == 0


async def test_forged_callback_on_an_unknown_token_path_changes_nothing(rig: Rig) -> None:
    till = await rig.open()
    view = await till.charge(10, "0711000005")  # no real callback: only STK Query settles it
    async with httpx.AsyncClient() as client:
        await client.post(
            rig.relay.base_url + "/api/v1/callbacks/stk/not-a-real-token",
            json={
                "Body": {
                    "stkCallback": {
                        "MerchantRequestID": "x",
                        "CheckoutRequestID": view.checkout_request_id,
                        "ResultCode": 1032,
                        "ResultDesc": "Request cancelled by user",
                    }
                }
            },
        )
    final = await settle(till, view.attempt_id)
    assert final.state == "paid" and final.method == "stk_query"


async def test_a_payment_unknown_for_more_than_five_minutes_raises_an_alert(rig: Rig) -> None:
    from datetime import UTC, datetime, timedelta

    from pos_app.engine.service import TillService
    from pos_app.engine.views import TillStatus

    offset = [timedelta(0)]
    till = await TillService.open(rig.config(), now=lambda: datetime.now(UTC) + offset[0])
    rig.services.append(till)
    statuses: list[TillStatus] = []
    till.subscribe_status(statuses.append)
    view = await till.charge(10, "0711000009")
    assert view.state == "unknown"
    assert not any(alert.code == AlertCode.PAYMENTS_STUCK for alert in till.status().alerts)
    offset[0] = timedelta(minutes=6)
    await eventually(
        lambda: _true(any(a.code == AlertCode.PAYMENTS_STUCK for a in till.status().alerts)), timeout_s=5
    )
    assert any(any("5 minutes" in a.message for a in s.alerts) for s in statuses)


async def test_a_push_whose_attempt_another_process_gave_up_on_ends_unknown_not_in_an_error(
    rig: Rig,
) -> None:
    # The window is pushing (Daraja slow); `mpesa-till history` opens the same store meanwhile and, the
    # attempt looking abandoned, marks it unknown. The push then times out: the cashier must get the
    # unknown attempt back, not an IllegalTransition.
    from pos_app.engine.states import FoundUnfinished
    from pos_app.engine.views import AttemptView

    till = await rig.open()
    other = await rig.open()
    created: list[str] = []
    pushing = asyncio.Event()

    def on_change(view: AttemptView) -> None:
        if view.state == "created":
            created.append(view.attempt_id)
            pushing.set()

    till.subscribe(on_change)
    charging = asyncio.create_task(till.charge(80, "0711000008"))
    await asyncio.wait_for(pushing.wait(), 5.0)
    marked = await other.ledger.apply(created[0], FoundUnfinished(at=other._now()), actor="system")
    assert marked.state == "unknown"
    view = await charging
    assert view.attempt_id == created[0] and view.state == "unknown"
    assert view.next_step is NextStep.CHECK_SMS
    assert (await rig.daraja_calls())["pushes"] == 1


async def test_the_stuck_alert_ends_once_another_attempt_pays_the_sale_and_stays_ended_after_a_restart(
    rig: Rig,
) -> None:
    from datetime import UTC, datetime, timedelta

    from pos_app.engine.service import TillService

    offset = [timedelta(0)]
    till = await TillService.open(rig.config(), now=lambda: datetime.now(UTC) + offset[0])
    rig.services.append(till)
    view = await till.charge(10, "0711000009")
    assert view.state == "unknown"
    offset[0] = timedelta(minutes=6)
    await eventually(
        lambda: _true(any(a.code == AlertCode.PAYMENTS_STUCK for a in till.status().alerts)), timeout_s=5
    )
    # "No SMS: charge again", and the customer pays: the unknown attempt is resolved by the paid one.
    again = await till.charge(10, "0708374149", sale_id=view.sale_id, customer_confirms_no_sms=True)
    assert (await settle(till, again.attempt_id)).state == "paid"
    await eventually(
        lambda: _true(not any(a.code == AlertCode.PAYMENTS_STUCK for a in till.status().alerts)), timeout_s=5
    )
    await till.close()
    restarted = await TillService.open(rig.config(), now=lambda: datetime.now(UTC) + timedelta(minutes=7))
    rig.services.append(restarted)
    assert (await restarted.day_report()).unknowns == []
    stuck, _anomalies = await restarted.store.alert_counts(
        since=view.created_at - timedelta(days=1), pending_before=view.created_at + timedelta(minutes=6)
    )
    assert stuck == 0
