"""Paid to the till number (C2B, docs/daraja.md §6) over real HTTP: the simulator plays the customer paying
the shop's till number, the relay under uvicorn puts the payment in the feed of both tills of the shop,
each till keeps it in its store, and one sale claims it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pos_app.engine.paid_to_till import C2bClaimRefused
from pos_app.engine.service import TillService
from pos_app.engine.states import State
from tests.engine.conftest import Rig, eventually
from tests.relay.c2b_support import customer_pays, make_shop, register_relay
from tests.support.relay_fixtures import RunningRelay
from tests.support.simulator_fixtures import RunningSimulator

TILL_NUMBER = "5123456"


def c2b_rows(service: TillService) -> list[tuple[str, int, str | None]]:
    with sqlite3.connect(service.store.path) as connection:
        return connection.execute(
            "SELECT trans_id, amount_kes, claimed_by FROM c2b_payments ORDER BY trans_id"
        ).fetchall()


async def open_shop_tills(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> tuple[list[Rig], list[TillService]]:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front", "back"])
    await register_relay(simulator, relay_server, shop.ref)
    rigs = [Rig(simulator, relay_server, shop.keys[name], "", tmp_path / name) for name in ("front", "back")]
    return rigs, [await rig.open() for rig in rigs]


async def test_both_tills_see_the_payment_one_sale_takes_it_and_the_other_is_told_which(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front, back) = await open_shop_tills(simulator, relay_server, tmp_path)
    try:
        paid = await customer_pays(simulator, TILL_NUMBER, 350)
        other = await customer_pays(simulator, TILL_NUMBER, 200)
        trans_id = paid["TransID"]

        async def both_kept() -> bool:
            return all(len(c2b_rows(till)) == 2 for till in (front, back))

        await eventually(both_kept)
        offers = await back.c2b_offers(350)
        # The sale's amount first although the KES 200 payment is newer.
        assert [(o.trans_id, o.amount_kes, o.matches_sale) for o in offers] == [
            (trans_id, 350, True),
            (other["TransID"], 200, False),
        ]
        assert (offers[0].first_name, offers[0].phone_display) == ("DEMO", "07** *** 149")

        view = await front.claim_c2b("SFRONT1", trans_id)
        assert (view.sale_id, view.state, view.method, view.receipt, view.amount_kes) == (
            "SFRONT1",
            State.PAID,
            "c2b",
            trans_id,
            350,
        )
        [created] = await front.audit_trail(view.attempt_id)
        assert (created["actor"], created["to_state"], created["detail"]["trans_id"]) == (
            "cashier",
            State.PAID,
            trans_id,
        )
        # Claiming again for the same sale is the same payment, not a second one.
        assert (await front.claim_c2b("SFRONT1", trans_id)).attempt_id == view.attempt_id

        with pytest.raises(C2bClaimRefused) as refused:
            await back.claim_c2b("SBACK1", trans_id)
        assert refused.value.message == f"KES 350 from DEMO ({trans_id}) is already taken by sale SFRONT1."
        assert await back.store.attempts_for_sale("SBACK1") == []

        async def claim_reached_back() -> bool:
            return [o.trans_id for o in await back.c2b_offers(350)] == [other["TransID"]]

        await eventually(claim_reached_back)
        # The feed repeated the payment on its claim (and the refused claim): still one row per TransID.
        for till in (front, back):
            assert sorted(c2b_rows(till)) == sorted(
                [(trans_id, 350, "SFRONT1"), (other["TransID"], 200, None)]
            )
    finally:
        for rig in rigs:
            for service in rig.services:
                await service.close()


async def test_a_payment_the_relay_does_not_know_and_a_paid_sale_are_refused_in_plain_words(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front, _back) = await open_shop_tills(simulator, relay_server, tmp_path)
    try:
        with pytest.raises(C2bClaimRefused, match=r"The relay has no payment NOPE000000 to this shop\."):
            await front.claim_c2b("S1", "nope000000")
        first = (await customer_pays(simulator, TILL_NUMBER, 50))["TransID"]
        second = (await customer_pays(simulator, TILL_NUMBER, 50))["TransID"]
        await front.claim_c2b("S1", first)
        with pytest.raises(C2bClaimRefused, match=r"Sale S1 is already paid\."):
            await front.claim_c2b("S1", second)
    finally:
        for rig in rigs:
            for service in rig.services:
                await service.close()


async def test_cash_taken_while_a_claim_is_at_the_relay_wins_and_the_payment_goes_back_unclaimed(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    # The claim checked "not paid yet" before its round trip to the relay and stored the sale paid after
    # it: cash taken in between paid the sale twice.
    rigs, (front, back) = await open_shop_tills(simulator, relay_server, tmp_path)
    try:
        trans_id = (await customer_pays(simulator, TILL_NUMBER, 80))["TransID"]
        claim_at_relay = front.paid_to_till._claim_at_relay

        async def cash_meanwhile(sale_id: str, code: str):  # type: ignore[no-untyped-def]
            granted = await claim_at_relay(sale_id, code)
            await front.take_cash(80, sale_id=sale_id)
            return granted

        front.paid_to_till._claim_at_relay = cash_meanwhile  # type: ignore[method-assign]
        with pytest.raises(C2bClaimRefused, match=r"Sale S1 was paid meanwhile"):
            await front.claim_c2b("S1", trans_id)

        attempts = await front.store.attempts_for_sale("S1")
        assert [(a.method, a.state) for a in attempts] == [("cash", State.PAID)]

        async def offered_again() -> bool:
            return [o.trans_id for o in await back.c2b_offers(80)] == [trans_id]

        await eventually(offered_again)  # given back at the relay: another sale may take it
        assert (await back.claim_c2b("SB", trans_id)).receipt == trans_id
    finally:
        for rig in rigs:
            for service in rig.services:
                await service.close()
