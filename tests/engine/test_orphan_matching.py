"""Resolving an unknown attempt that never learned its CheckoutRequestID from the relay's orphans
(pos_app/engine/orphans.py), one look-up at a time: the real relay under uvicorn, the real simulator, the
till's real store. The kill drills that lead here are in test_recovery.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx

from pos_app.engine.orphans import WINDOW_AFTER_S, OrphanMatcher, Resolution
from pos_app.engine.states import State
from relay.models import utcnow
from relay.simulate import stk_callback_bytes
from tests.engine.conftest import FAST, RigFactory


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
