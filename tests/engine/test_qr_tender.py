"""The QR tender over real HTTP (docs/daraja.md §6b, §6): the till asks the simulator for the sale's Dynamic
QR, the simulator plays the customer scanning it and fires the C2B confirmation to the relay under uvicorn,
and the relay's feed brings the payment to the till. A paybill QR settles its sale by itself (the account
number is the sale's reference); a till-number QR offers the payment of the sale's amount."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from daraja_core.password import SANDBOX_SHORTCODE
from pos_app.daraja import BUY_GOODS
from pos_app.engine.qr_tender import QrRefused
from pos_app.engine.service import TillService
from pos_app.engine.states import State
from tests.engine.conftest import FAST, Rig, eventually
from tests.relay.c2b_support import PAYER, auth, make_shop, register_relay, rows
from tests.simulator.daraja_calls import daraja_client
from tests.support.qr_image import png_says
from tests.support.relay_fixtures import RunningRelay
from tests.support.simulator_fixtures import RunningSimulator

TILL_NUMBER = "5123456"


async def customer_pays(simulator: RunningSimulator, **target: Any) -> dict[str, Any]:
    """The customer pays (a scanned QR by its RequestID, or a paybill by hand); answered once the
    confirmation POST to the relay is over."""
    async with daraja_client(simulator.base_url) as client:
        answer = await client.post("/simulator/c2b/pay", json={"phone": PAYER, **target}, timeout=15)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def shop_tills(
    simulator: RunningSimulator,
    relay_server: RunningRelay,
    tmp_path: Path,
    shortcode: str,
    names: tuple[str, ...] = ("front",),
    **config: Any,
) -> tuple[list[Rig], list[TillService]]:
    shop = await make_shop(relay_server, "duka", shortcode, list(names))
    await register_relay(simulator, relay_server, shop.ref)
    rigs = []
    for name in names:
        async with daraja_client(relay_server.base_url) as client:
            till = (await client.get("/api/v1/till", headers=auth(shop.keys[name]))).json()
        rigs.append(Rig(simulator, relay_server, shop.keys[name], till["callback_path"], tmp_path / name))
    # A short long-poll: closing a till waits out the one in flight.
    timings = replace(FAST, long_poll_s=0.2)
    return rigs, [await rig.open(shop_name="Duka la Mama", timings=timings, **config) for rig in rigs]


async def close(rigs: list[Rig]) -> None:
    for rig in rigs:
        for service in rig.services:
            await service.close()


async def test_a_paybill_qr_payment_settles_its_sale_by_the_reference_and_no_other_sale(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front, back) = await shop_tills(
        simulator, relay_server, tmp_path, SANDBOX_SHORTCODE, ("front", "back")
    )
    try:
        qr = await front.qr.show("SQR000001", 350)
        assert (qr.trx_code, qr.number, qr.reference, qr.merchant_name) == (
            "PB",
            SANDBOX_SHORTCODE,
            "SQR000001",
            "Duka la Mama",
        )
        assert png_says(
            qr.image,
            "DARAJA-SIMULATOR-QR?id="
            + qr.request_id
            + "&trx=PB&cpi=174379&amount=350&ref=SQR000001&merchant=Duka+la+Mama",
        )
        # Another customer pays the paybill by hand, same amount, another account number: not this sale's.
        other = await customer_pays(simulator, paybill=SANDBOX_SHORTCODE, amount=350, ref="ACC42")
        paid = await customer_pays(simulator, qr=qr.request_id)
        # The confirmation the relay stored carries the sale's reference as the account number.
        assert await rows(
            relay_server.database_url,
            f"SELECT bill_ref, amount_kes FROM c2b_payment WHERE trans_id = '{paid['TransID']}'",
        ) == [{"bill_ref": "SQR000001", "amount_kes": 350}]

        async def sale_paid() -> bool:
            return any(a.state == State.PAID for a in await front.store.attempts_for_sale("SQR000001"))

        await eventually(sale_paid)
        [attempt] = await front.store.attempts_for_sale("SQR000001")
        assert (attempt.method, attempt.receipt, attempt.amount_kes) == ("qr", paid["TransID"], 350)
        [created] = await front.audit_trail(attempt.id)
        assert (created["actor"], created["detail"]["method"]) == ("system", "qr")
        assert front.qr.showing("SQR000001") is None
        # The other payment still waits for a sale, on both tills; the back till never took the QR's.
        for till in (front, back):

            async def only_other_left(till: TillService = till) -> bool:
                return [o.trans_id for o in await till.c2b_offers()] == [other["TransID"]]

            await eventually(only_other_left)
        assert await back.store.attempts_for_sale("SQR000001") == []
    finally:
        await close(rigs)


async def test_a_paybill_payment_of_another_amount_does_not_settle_the_qr_sale(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(simulator, relay_server, tmp_path, SANDBOX_SHORTCODE)
    try:
        await front.qr.show("SQR000002", 350)
        short = await customer_pays(simulator, paybill=SANDBOX_SHORTCODE, amount=300, ref="sqr000002")
        await rigs[0].caught_up(front)  # the feed entry was kept and the QR sales looked at
        assert await front.store.attempts_for_sale("SQR000002") == []
        assert [o.trans_id for o in await front.c2b_offers(350)] == [short["TransID"]]
        # The right amount with the reference typed in small letters is the sale's.
        right = await customer_pays(simulator, paybill=SANDBOX_SHORTCODE, amount=350, ref="sqr000002")

        async def settled() -> bool:
            return [a.receipt for a in await front.store.attempts_for_sale("SQR000002")] == [right["TransID"]]

        await eventually(settled)
    finally:
        await close(rigs)


async def test_a_till_number_qr_offers_the_payment_of_the_sale_amount_and_the_cashier_takes_it(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(
        simulator, relay_server, tmp_path, TILL_NUMBER, transaction_type=BUY_GOODS, till_number=TILL_NUMBER
    )
    try:
        qr = await front.qr.show("SQR000003", 420)
        assert (qr.trx_code, qr.number) == ("BG", TILL_NUMBER)
        assert await front.qr.offer("SQR000003") is None
        paid = await customer_pays(simulator, qr=qr.request_id)
        await rigs[0].caught_up(front)
        # Not taken by itself: on a till number the reference is not relied on (§6b).
        assert await front.store.attempts_for_sale("SQR000003") == []
        offer = await front.qr.offer("SQR000003")
        assert offer is not None
        assert (offer.trans_id, offer.amount_kes, offer.first_name) == (paid["TransID"], 420, "DEMO")
        view = await front.qr.take("SQR000003", offer.trans_id)
        assert (view.state, view.method, view.receipt) == (State.PAID, "qr", paid["TransID"])
        with pytest.raises(QrRefused, match=r"^Sale SQR000003 is already paid\.$"):
            await front.qr.show("SQR000003", 420)
    finally:
        await close(rigs)


async def test_a_buy_goods_till_without_its_till_number_is_told_which_setting_to_fill(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(
        simulator, relay_server, tmp_path, TILL_NUMBER, transaction_type=BUY_GOODS, till_number=""
    )
    try:
        with pytest.raises(QrRefused, match=r"needs the till number \(MPESA_TILL_NUMBER\)"):
            await front.qr.show("SQR000004", 100)
    finally:
        await close(rigs)


async def test_a_qr_payment_another_sale_took_first_is_told_not_waited_on(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    shop = await make_shop(relay_server, "duka", SANDBOX_SHORTCODE, ["front", "back"])
    await register_relay(simulator, relay_server, shop.ref)
    front_rig = Rig(simulator, relay_server, shop.keys["front"], "", tmp_path / "front")
    back_rig = Rig(simulator, relay_server, shop.keys["back"], "", tmp_path / "back")
    gate = await front_rig.gate_relay()  # the front till's line to the relay, cut while the back till claims
    try:
        front = await front_rig.open(timings=replace(FAST, long_poll_s=0.2))
        back = await back_rig.open(timings=replace(FAST, long_poll_s=0.2))
        told: list[tuple[str, str]] = []
        front.qr.subscribe(lambda sale_id, sentence: told.append((sale_id, sentence)))
        qr = await front.qr.show("SQR000005", 90)
        await gate.close()
        paid = await customer_pays(simulator, qr=qr.request_id)
        # The other till's cashier takes it under Paid to till before the front till hears of it.
        await back.claim_c2b("SBACK0001", paid["TransID"])
        await gate.open()

        async def front_told() -> bool:
            # Said again on each later feed change while the QR is on screen: the same sentence.
            return bool(told) and set(told) == {
                ("SQR000005", f"Payment {paid['TransID']} is already used on sale SBACK0001.")
            }

        await eventually(front_told)
        assert await front.store.attempts_for_sale("SQR000005") == []
    finally:
        await close([front_rig, back_rig])
        await gate.close()
