"""The owner's C2B operations over real HTTP (docs/daraja.md §6): the till registers the relay's C2B URLs
with the simulator, diagnostics check them, Pull Transactions stands in when the relay cannot tell, and the
owner releases a payment taken by mistake. The relay runs under uvicorn, the till's store is a real file."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import pytest

from pos_app.daraja.c2b import UrlsAlreadyRegistered
from pos_app.engine.c2b_urls import C2bSetupRefused, public_base
from pos_app.engine.errors import WrongPin
from pos_app.engine.message_check import Verdict
from pos_app.engine.paid_to_till import C2B_RELEASED, C2bClaimRefused
from pos_app.engine.service import TillService
from pos_app.engine.states import State
from relay.c2b import add_till_to_shop, create_shop
from relay.db import Database
from tests.engine.conftest import Rig, RigFactory, eventually
from tests.relay.c2b_support import customer_pays, make_shop, register_relay, rows
from tests.support.relay_fixtures import RunningRelay
from tests.support.simulator_fixtures import RunningSimulator

TILL_NUMBER = "5123456"
#: The simulator's customer whose confirmation is never sent (scenarios.C2B_CONFIRMATION_COPIES).
CONFIRMATION_LOST = "254711000005"
PIN = "2468"


def local_rows(service: TillService) -> list[tuple[str, str, str | None, int]]:
    with sqlite3.connect(service.store.path) as connection:
        return connection.execute(
            "SELECT trans_id, source, claimed_by, claim_pending FROM c2b_payments ORDER BY trans_id"
        ).fetchall()


async def join_shop(relay: RunningRelay, till_name: str, shortcode: str = TILL_NUMBER) -> None:
    db = Database(relay.database_url)
    try:
        await db.write(lambda c: create_shop(c, "duka", shortcode))
        await db.write(functools.partial(add_till_to_shop, shop_name="duka", till_name=till_name))
    finally:
        await db.dispose()


async def relay_claims(relay: RunningRelay) -> dict[str, str | None]:
    found = await rows(relay.database_url, "SELECT trans_id, claimed_by FROM c2b_payment")
    return {row["trans_id"]: row["claimed_by"] for row in found}


def test_the_public_address_is_the_one_in_front_of_the_callback_paths() -> None:
    assert public_base("https://relay.example.com/api/v1/callbacks/stk/abc") == "https://relay.example.com"
    assert (
        public_base("https://x.ngrok-free.app/edge/api/v1/callbacks/stk/a") == "https://x.ngrok-free.app/edge"
    )
    assert public_base("https://example.invalid/no-relay") == ""


async def test_the_till_registers_its_shops_urls_and_a_payment_then_reaches_the_till(
    rig: Rig, simulator: RunningSimulator, relay_server: RunningRelay
) -> None:
    await join_shop(relay_server, "test-till")
    till = await rig.open()
    registration = await till.c2b.register()
    assert registration.urls.shortcode == TILL_NUMBER
    assert registration.urls.confirmation_url.startswith(relay_server.base_url + "/api/v1/callbacks/c2b/")
    assert registration.urls.confirmation_url.endswith("/confirmation")
    # Registered on Daraja (the simulator): the customer's payment now reaches the relay and this till.
    paid = await customer_pays(simulator, TILL_NUMBER, 350)
    assert [o.trans_id for o in await till.c2b_offers(350, catch_up=True)] == [paid["TransID"]]
    # Diagnostics know this till registered these URLs, and the public validation URL answers.
    found = {f.code: f for f in await till.c2b.findings()}
    assert found["c2b_registered"].severity == "ok"
    assert found["c2b_ok"].severity == "ok"
    # Plain HTTP on loopback: the same rules as the STK callback URL.
    assert {"c2b_confirmation_not_https", "c2b_confirmation_localhost"} <= set(found)
    # The probe went to validation only: kept raw, never a payment.
    statuses = await rows(relay_server.database_url, "SELECT status FROM raw_callback")
    assert "c2b_validation" in {row["status"] for row in statuses}
    assert list(await relay_claims(relay_server)) == [paid["TransID"]]


async def test_doctor_checks_the_c2b_urls_beside_the_stk_callback_url(
    rig: Rig, relay_server: RunningRelay
) -> None:
    await join_shop(relay_server, "test-till")
    till = await rig.open()
    found = {f.code: f.severity for f in await till.diagnostics()}
    assert found["callback_ok"] == "ok"
    assert found["c2b_ok"] == "ok"
    assert found["c2b_not_registered_here"] == "warning"
    assert found["callback_not_https"] == found["c2b_validation_not_https"] == "error"


async def test_production_registration_is_one_time_and_says_500_003_1001(
    rig_factory: RigFactory, relay_server: RunningRelay
) -> None:
    rig = await rig_factory(c2b_register_once=True)
    await join_shop(relay_server, "till-0")
    till = await rig.open()
    await till.c2b.register()
    with pytest.raises(UrlsAlreadyRegistered) as again:
        await till.c2b.register()
    assert again.value.error_code == "500.003.1001"
    assert again.value.error_message == "Urls are already registered"


async def test_production_urls_that_break_safaricoms_rules_are_refused_before_any_request(
    rig: Rig, simulator: RunningSimulator, relay_server: RunningRelay
) -> None:
    await join_shop(relay_server, "test-till")
    till = await rig.open(environment="production")
    with pytest.raises(C2bSetupRefused) as refused:
        await till.c2b.register()
    assert "is not HTTPS" in refused.value.message
    with pytest.raises(C2bSetupRefused, match="'mpesa'"):
        await till.c2b.register(
            confirmation_url="https://relay.example.com/mpesa/confirmation",
            validation_url="https://relay.example.com/v",
        )
    log = await simulator.log()
    assert not [r for r in log["requests"] if "registerurl" in r.get("path", "")]


async def test_a_till_in_no_shop_is_told_how_to_make_one(rig: Rig) -> None:
    till = await rig.open()
    with pytest.raises(C2bSetupRefused, match="create-shop"):
        await till.c2b.register()
    assert await till.c2b.findings() == []


async def test_a_confirmation_lost_on_the_way_is_recovered_by_pull_and_claimed_once(
    rig: Rig, simulator: RunningSimulator, relay_server: RunningRelay
) -> None:
    await join_shop(relay_server, "test-till")
    till = await rig.open()
    await till.c2b.register()
    await till.c2b.register_pull("0722000000")
    delivered = await customer_pays(simulator, TILL_NUMBER, 200)
    lost = await customer_pays(simulator, TILL_NUMBER, 350, phone=CONFIRMATION_LOST)
    await till.c2b_offers(catch_up=True)
    result = await till.c2b.pull()
    assert (result.seen, result.new) == (2, 1)
    # One row per TransID: the relay's payment is not counted again.
    assert local_rows(till) == sorted(
        [(delivered["TransID"], "relay", None, 0), (lost["TransID"], "pull", None, 0)]
    )
    assert (await till.c2b.pull()).new == 0
    offers = await till.c2b_offers(350)
    assert (offers[0].trans_id, offers[0].matches_sale) == (lost["TransID"], True)
    # The relay never got it, but M-Pesa did: genuine, not "not received".
    check = await till.check_message(lost["TransID"])
    assert (check.verdict, check.amount_kes) == (Verdict.GENUINE_FREE, 350)
    # The relay has no such payment (404): the till claims it alone, to tell the relay later.
    view = await till.claim_c2b("S1", lost["TransID"])
    assert (view.state, view.method, view.receipt) == (State.PAID, "c2b", lost["TransID"])
    [created] = await till.audit_trail(view.attempt_id)
    assert created["detail"]["claim_decided_by"] == "pull"
    assert (lost["TransID"], "pull", "S1", 1) in local_rows(till)
    with pytest.raises(C2bClaimRefused, match="already used on sale S1"):
        await till.claim_c2b("S2", lost["TransID"])


async def test_with_the_relay_down_pull_answers_the_check_and_the_claim_reaches_the_relay_later(
    rig: Rig, simulator: RunningSimulator, relay_server: RunningRelay
) -> None:
    await join_shop(relay_server, "test-till")
    shop_rows = await rows(relay_server.database_url, "SELECT * FROM shop")
    gate = await rig.gate_relay()
    till = await rig.open()
    await till.c2b.urls()  # the till learns the shop's number while the relay answers
    await till.c2b.register_pull("0722000000")
    # The relay's URLs are registered directly (not through the gate): the relay gets the payment.
    from relay.c2b import ShopRef

    shop = ShopRef(shop_rows[0]["id"], "duka", TILL_NUMBER, shop_rows[0]["token"])
    await register_relay(simulator, relay_server, shop)
    await gate.close()
    paid = await customer_pays(simulator, TILL_NUMBER, 500)
    code = paid["TransID"]

    check = await till.check_message(code)  # relay down: Pull answers
    assert (check.verdict, check.amount_kes) == (Verdict.GENUINE_FREE, 500)
    assert [o.trans_id for o in await till.c2b_offers(500)] == [code]
    view = await till.claim_c2b("S9", code)
    assert view.state == State.PAID
    assert local_rows(till) == [(code, "pull", "S9", 1)]
    assert (await till.check_message(code)).verdict is Verdict.GENUINE_USED
    assert (await relay_claims(relay_server))[code] is None

    await gate.open()

    async def told() -> bool:
        return (await relay_claims(relay_server)).get(code) == "S9"

    await eventually(told, timeout_s=10)
    await eventually(lambda: _async(local_rows(till) == [(code, "relay", "S9", 0)]), timeout_s=10)


async def _async(value: bool) -> bool:
    return value


async def test_a_claim_made_alone_that_lost_the_race_at_the_relay_is_audited_for_the_owner(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front", "back"])
    await register_relay(simulator, relay_server, shop.ref)
    rigs = [Rig(simulator, relay_server, shop.keys[n], "", tmp_path / n) for n in ("front", "back")]
    front_gate = await rigs[0].gate_relay()
    front, back = [await rig.open() for rig in rigs]
    try:
        await front.c2b.urls()
        await front.c2b.register_pull("0722000000")
        await front_gate.close()
        code = (await customer_pays(simulator, TILL_NUMBER, 80))["TransID"]
        await front.check_message(code)  # pulls
        alone = await front.claim_c2b("SFRONT", code)
        await back.claim_c2b("SBACK", code)  # the relay gives it to the back till
        await front_gate.open()
        await eventually(lambda: _async(local_rows(front) == [(code, "relay", "SBACK", 0)]), timeout_s=10)
        actions = [entry["action"] for entry in await front.audit_trail(alone.attempt_id)]
        assert "c2b_claim_conflict" in actions
    finally:
        for service in (front, back):
            await service.close()
        await front_gate.close()


async def test_the_owner_releases_a_wrong_claim_with_the_pin_and_another_sale_takes_it(
    rig: Rig, simulator: RunningSimulator, relay_server: RunningRelay
) -> None:
    await join_shop(relay_server, "test-till")
    till = await rig.open()
    await till.set_owner_pin(None, PIN)
    await till.c2b.register()
    code = (await customer_pays(simulator, TILL_NUMBER, 120))["TransID"]
    await till.c2b_offers(catch_up=True)
    wrong = await till.claim_c2b("SWRONG", code)
    with pytest.raises(WrongPin):
        await till.c2b.release(code, "0000")
    assert (await relay_claims(relay_server))[code] == "SWRONG"

    released = await till.c2b.release(code, PIN)
    assert released is not None
    assert (released.sale_id, released.state, released.receipt, released.anomaly) == (
        "SWRONG",
        State.FAILED,
        None,
        C2B_RELEASED,
    )
    assert "gave its M-Pesa payment back" in released.message_en
    assert (await relay_claims(relay_server))[code] is None
    events = await rows(relay_server.database_url, "SELECT action, by FROM claim_event ORDER BY id")
    assert [(e["action"], e["by"]) for e in events] == [("claim", ""), ("release", "owner")]
    trail = [entry["action"] for entry in await till.audit_trail(wrong.attempt_id)]
    assert trail[-1] == "c2b_release"
    right = await till.claim_c2b("SRIGHT", code)
    assert (right.state, right.receipt) == (State.PAID, code)


async def test_a_fake_code_asks_m_pesa_once_then_reuses_that_answer_for_a_while(
    rig: Rig, simulator: RunningSimulator, relay_server: RunningRelay
) -> None:
    await join_shop(relay_server, "test-till")
    till = await rig.open()
    await till.c2b.urls()
    await till.c2b.register_pull("0722000000")
    for fake in ("TK3MX6CLYC", "TK3MX6CLYD"):
        assert (await till.check_message(fake)).verdict is Verdict.NOT_RECEIVED
    log = await simulator.log()
    assert len([r for r in log["requests"] if r["path"] == "/pulltransactions/v1/query"]) == 1
