"""Checking the customer's M-Pesa message against the REAL relay (uvicorn on loopback) and the Daraja
simulator: an STK payment this till took, a C2B payment to its shop free and then claimed, a made-up code,
and the relay out of reach (never "not received" then)."""

from __future__ import annotations

import functools

import httpx
import pytest

from pos_app.engine.errors import ReceiptRefused
from pos_app.engine.message_check import Verdict
from relay.c2b import add_till_to_shop, create_shop
from relay.db import Database
from tests.engine.conftest import Rig, settle
from tests.relay.c2b_support import auth, customer_pays, register_relay

TILL_NUMBER = "5123456"


async def shop_of(rig: Rig) -> None:
    """Make the rig's till one till of a shop paid on TILL_NUMBER, registered with the simulator."""
    db = Database(rig.relay.database_url)
    try:
        shop = await db.write(lambda c: create_shop(c, "duka", TILL_NUMBER))
        await db.write(functools.partial(add_till_to_shop, shop_name="duka", till_name="test-till"))
    finally:
        await db.dispose()
    await register_relay(rig.simulator, rig.relay, shop)


async def test_an_stk_payment_this_till_took_is_genuine_and_used_by_its_sale(rig: Rig) -> None:
    till = await rig.open()
    view = await till.charge(250, "0708374149")
    paid = await settle(till, view.attempt_id)
    assert paid.receipt
    answer = await till.check_message(f" {paid.receipt.lower()} ")
    assert answer.verdict == Verdict.GENUINE_USED
    assert (answer.receipt, answer.amount_kes, answer.sale_id) == (paid.receipt, 250, paid.sale_id)
    assert answer.paid_at is not None and answer.used_at is not None


async def test_a_c2b_payment_to_the_shop_is_genuine_and_free_until_a_sale_claims_it(rig: Rig) -> None:
    await shop_of(rig)
    till = await rig.open()
    payment = await customer_pays(rig.simulator, TILL_NUMBER, 120)
    code = payment["TransID"]
    free = await till.check_message(code)
    assert (free.verdict, free.amount_kes, free.name, free.sale_id) == (
        Verdict.GENUINE_FREE,
        120,
        "DEMO",
        None,
    )
    assert free.paid_at is not None
    async with httpx.AsyncClient(base_url=rig.relay.base_url) as client:
        claimed = await client.post(
            f"/api/v1/c2b/{code}/claim", json={"order_id": "SALE-42"}, headers=auth(rig.relay_key)
        )
    assert claimed.status_code == 200, claimed.text
    used = await till.check_message(code)
    assert (used.verdict, used.amount_kes, used.sale_id) == (Verdict.GENUINE_USED, 120, "SALE-42")
    assert used.used_at is not None


async def test_a_made_up_code_is_not_received(rig: Rig) -> None:
    till = await rig.open()
    answer = await till.check_message("TK3MX6CLYC")
    assert (answer.verdict, answer.receipt, answer.amount_kes) == (Verdict.NOT_RECEIVED, "TK3MX6CLYC", None)


async def test_with_the_relay_out_of_reach_the_answer_is_cannot_check_never_not_received(rig: Rig) -> None:
    gate = await rig.gate_relay()
    till = await rig.open()
    await gate.close()
    answer = await till.check_message("TK3MX6CLYC")
    assert answer.verdict == Verdict.CANNOT_CHECK and "not reachable" in answer.reason


async def test_a_receipt_a_sale_took_here_stays_used_when_the_relay_is_out_of_reach(rig: Rig) -> None:
    gate = await rig.gate_relay()
    till = await rig.open()
    view = await till.charge(60, "0708374149")
    paid = await settle(till, view.attempt_id)
    await gate.close()
    assert paid.receipt
    answer = await till.check_message(paid.receipt)
    assert (answer.verdict, answer.sale_id, answer.amount_kes) == (Verdict.GENUINE_USED, paid.sale_id, 60)


@pytest.mark.parametrize("code", ["", "TK3MX6CLY", "TK3MX6CLYC1", "TK3MX-CLYC"])
async def test_a_code_that_cannot_be_a_receipt_is_refused_before_anything_is_asked(
    rig: Rig, code: str
) -> None:
    till = await rig.open()
    with pytest.raises(ReceiptRefused, match="10 letters and digits"):
        await till.check_message(code)
