"""A result on the relay's untokenised seed path from an address not on Safaricom's list is a hint
(issue 11 defect 8, docs/daraja.md §5): the till confirms it by STK Query before showing it as final,
and a forged "cancelled" that arrives first never leaves a paid payment failed. The real simulator, the
real relay under uvicorn, the till's real engine."""

from __future__ import annotations

import httpx

from pos_app.engine.states import State
from relay.simulate import stk_callback_bytes
from tests.engine.conftest import Recorder, RigFactory, eventually

SEED_PATH = "/api/v1/payments/mpesa/callback"


async def test_a_forged_cancel_first_is_confirmed_by_query_and_the_paid_callback_wins(
    rig_factory: RigFactory,
) -> None:
    rig = await rig_factory(callback_delay_s=2.0)  # the customer pays after 2 s
    till = await rig.open()
    recorder = Recorder(till)
    view = await till.charge(10, "0708374149")
    assert view.checkout_request_id is not None
    forged = stk_callback_bytes(view.checkout_request_id, result_code=1032)
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(rig.relay.base_url + SEED_PATH, content=forged)).status_code == 200

    async def hint_seen() -> bool:
        actions = [entry["action"] for entry in await till.audit_trail(view.attempt_id)]
        return "unverified_result" in actions

    await eventually(hint_seen)
    assert (await till.attempt(view.attempt_id)).state == State.PROMPT_SENT  # not shown as failed
    final = await till.ledger.wait_for(
        view.attempt_id, lambda v: v.state == State.PAID and v.receipt is not None, 15.0
    )
    assert final.anomaly is None
    assert State.FAILED not in recorder.states(view.attempt_id)
    assert (await rig.daraja_calls())["pushes"] == 1
