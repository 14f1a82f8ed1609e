"""A paybill QR open when the till stops (a crash, a power cut) still settles its sale with the customer's
payment once the till is back (pos_app/engine/qr_tender.py `resume`, table `open_qr_codes`): whether the
payment comes after the restart or arrived while the till was down, exactly once, and never for a sale paid
another way meanwhile, a QR given back (Esc), or a payment made long after the QR was shown. Real SQLite
files, the real relay under uvicorn and the real simulator playing the customer, on loopback."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from daraja_core.password import SANDBOX_SHORTCODE
from pos_app.engine.qr_tender import QR_PAYMENT_WINDOW, QR_WATCH_LIMIT
from pos_app.engine.service import TillService, utcnow
from pos_app.engine.states import State
from tests.engine.conftest import FAST, Rig, eventually
from tests.engine.test_qr_tender import close, customer_pays, shop_tills
from tests.relay.c2b_support import auth, rows
from tests.simulator.daraja_calls import daraja_client
from tests.support.relay_fixtures import RunningRelay
from tests.support.simulator_fixtures import RunningSimulator

SHOP = "Duka la Mama"
TIMINGS = replace(FAST, long_poll_s=0.2)


async def restart(rig: Rig, till: TillService) -> TillService:
    """The till stops with whatever it had open, and starts again on the same store."""
    await till.close()
    return await rig.open(shop_name=SHOP, timings=TIMINGS)


async def relay_holder(relay_server: RunningRelay, trans_id: str) -> str | None:
    [row] = await rows(
        relay_server.database_url, f"SELECT claimed_by FROM c2b_payment WHERE trans_id = '{trans_id}'"
    )
    holder: str | None = row["claimed_by"]
    return holder


async def closed_why(till: TillService, sale_id: str) -> str | None:
    [row] = [qr for qr in await till.store.qr_codes() if qr.sale_id == sale_id]
    return row.closed_why


async def settled_once_by_qr(till: TillService, sale_id: str, trans_id: str) -> None:
    async def paid() -> bool:
        return any(a.state == State.PAID for a in await till.store.attempts_for_sale(sale_id))

    await eventually(paid)
    [attempt] = await till.store.attempts_for_sale(sale_id)
    assert (attempt.method, attempt.receipt, attempt.amount_kes) == ("qr", trans_id, 350)
    [created] = await till.audit_trail(attempt.id)
    assert (created["actor"], created["detail"]["method"]) == ("system", "qr")

    async def closed() -> bool:
        return await closed_why(till, sale_id) == "paid_by_qr"

    await eventually(closed)


async def test_a_till_restarted_with_a_paybill_qr_open_settles_that_sale_when_the_customer_then_pays(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(simulator, relay_server, tmp_path, SANDBOX_SHORTCODE)
    try:
        qr = await front.qr.show("SQRR00001", 350)
        again = await restart(rigs[0], front)
        paid = await customer_pays(simulator, qr=qr.request_id)
        await settled_once_by_qr(again, "SQRR00001", paid["TransID"])
        assert await relay_holder(relay_server, paid["TransID"]) == "SQRR00001"
        # Started once more, nothing is taken again: the QR is closed and the sale has its one payment.
        third = await restart(rigs[0], again)
        await rigs[0].caught_up(third)
        assert [a.receipt for a in await third.store.attempts_for_sale("SQRR00001")] == [paid["TransID"]]
    finally:
        await close(rigs)


async def test_a_qr_payment_that_arrived_while_the_till_was_down_settles_its_sale_on_start(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(simulator, relay_server, tmp_path, SANDBOX_SHORTCODE)
    try:
        qr = await front.qr.show("SQRR00002", 350)
        await front.close()  # the power goes; the customer pays meanwhile, the relay keeps it
        paid = await customer_pays(simulator, qr=qr.request_id)
        assert await relay_holder(relay_server, paid["TransID"]) is None
        again = await rigs[0].open(shop_name=SHOP, timings=TIMINGS)
        await settled_once_by_qr(again, "SQRR00002", paid["TransID"])
        assert await relay_holder(relay_server, paid["TransID"]) == "SQRR00002"
    finally:
        await close(rigs)


async def test_a_qr_sale_paid_in_cash_before_or_after_the_restart_is_not_paid_again_by_the_qr(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(simulator, relay_server, tmp_path, SANDBOX_SHORTCODE)
    try:
        before = await front.qr.show("SQRR00003", 350)
        await front.take_cash(350, sale_id="SQRR00003")  # F8 while the QR was on screen
        after = await front.qr.show("SQRR00004", 350)
        again = await restart(rigs[0], front)
        await again.take_cash(350, sale_id="SQRR00004")  # F8 once the till is back
        late = [await customer_pays(simulator, qr=qr.request_id) for qr in (before, after)]
        await rigs[0].caught_up(again)  # the feed brought both payments and the QR sales were looked at
        for sale_id in ("SQRR00003", "SQRR00004"):
            assert [a.method for a in await again.store.attempts_for_sale(sale_id)] == ["cash"]
            assert await closed_why(again, sale_id) == "paid_otherwise"
        # Both payments stay unclaimed, for the owner to see and refund, on the till and at the relay.
        offered = {offer.trans_id for offer in await again.c2b_offers()}
        assert offered == {paid["TransID"] for paid in late}
        for paid in late:
            assert await relay_holder(relay_server, paid["TransID"]) is None
    finally:
        await close(rigs)


async def test_a_qr_given_back_with_esc_is_not_picked_up_after_a_restart(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(simulator, relay_server, tmp_path, SANDBOX_SHORTCODE)
    try:
        qr = await front.qr.show("SQRR00005", 350)
        front.qr.forget("SQRR00005")  # Esc: the sale is the cashier's again
        again = await restart(rigs[0], front)
        assert await closed_why(again, "SQRR00005") == "given_back"
        paid = await customer_pays(simulator, qr=qr.request_id)
        await rigs[0].caught_up(again)
        assert await again.store.attempts_for_sale("SQRR00005") == []
        assert [offer.trans_id for offer in await again.c2b_offers()] == [paid["TransID"]]
        assert await relay_holder(relay_server, paid["TransID"]) is None
    finally:
        await close(rigs)


async def test_an_open_qr_takes_no_payment_made_after_its_window_and_is_closed_after_a_day(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(simulator, relay_server, tmp_path, SANDBOX_SHORTCODE)
    rig = rigs[0]
    await front.close()
    try:
        # Two QRs left open by tills that stopped: one shown just over its window ago, one over a day ago.
        for sale_id, age in (
            ("SQRR00006", QR_PAYMENT_WINDOW + timedelta(minutes=1)),
            ("SQRR00007", QR_WATCH_LIMIT + timedelta(minutes=1)),
        ):

            def earlier(age: timedelta = age) -> datetime:
                return utcnow() - age

            then = await TillService.open(rig.config(shop_name=SHOP, timings=TIMINGS), now=earlier)
            rig.services.append(then)
            await then.qr.show(sale_id, 350)
            await then.close()
        again = await rig.open(shop_name=SHOP, timings=TIMINGS)
        told: list[tuple[str, str]] = []
        again.qr.subscribe(lambda sale_id, sentence: told.append((sale_id, sentence)))
        assert await closed_why(again, "SQRR00007") == "expired"
        assert await closed_why(again, "SQRR00006") is None  # still watched: a payment in time may come
        # The customer pays that QR's account and amount now, after its window: not this sale's.
        paid = await customer_pays(simulator, paybill=SANDBOX_SHORTCODE, amount=350, ref="SQRR00006")
        await rig.caught_up(again)
        assert await again.store.attempts_for_sale("SQRR00006") == []
        assert [offer.trans_id for offer in await again.c2b_offers()] == [paid["TransID"]]
        late = f"Payment {paid['TransID']} came too late for this QR code; it waits in Paid to till."
        assert set(told) == {("SQRR00006", late)}
    finally:
        await close(rigs)


async def test_a_qr_claim_won_at_the_relay_just_before_a_crash_settles_the_sale_once_on_start(
    simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path
) -> None:
    rigs, (front,) = await shop_tills(simulator, relay_server, tmp_path, SANDBOX_SHORTCODE)
    try:
        qr = await front.qr.show("SQRR00008", 350)
        await front.close()
        paid = await customer_pays(simulator, qr=qr.request_id)
        # The till's claim reached the relay, and the till died before storing the sale paid.
        async with daraja_client(relay_server.base_url) as client:
            claimed = await client.post(
                f"/api/v1/c2b/{paid['TransID']}/claim",
                json={"order_id": "SQRR00008"},
                headers=auth(rigs[0].relay_key),
            )
        assert claimed.status_code in (200, 201), claimed.text
        again = await rigs[0].open(shop_name=SHOP, timings=TIMINGS)
        await settled_once_by_qr(again, "SQRR00008", paid["TransID"])
    finally:
        await close(rigs)
