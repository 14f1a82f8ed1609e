"""C2B payments through the relay over real HTTP (docs/daraja.md §6): the simulator registers the shop's
relay URLs and plays the customer, POSTing validation and confirmation to the relay under uvicorn; the
shop's tills read their feed and claim the payment."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest

from daraja_core.contract import FeedPage, ReceiptAnswer, decode
from relay.c2b import CONFIRMATION, VALIDATION, forbidden_url_words
from relay.cli import main
from tests.relay.c2b_support import PAYER, auth, customer_pays, feed, make_shop, register_relay, rows
from tests.support.relay_fixtures import RelayFactory, RunningRelay
from tests.support.simulator_fixtures import RunningSimulator, SimulatorFactory

TILL_NUMBER = "5123456"
SUCCESS = {"ResultCode": 0, "ResultDesc": "Success"}


async def test_a_confirmation_is_stored_before_it_is_acknowledged_with_darajas_reply(
    relay_server: RunningRelay, simulator: RunningSimulator
) -> None:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front"])
    await register_relay(simulator, relay_server, shop.ref)
    paid = await customer_pays(simulator, TILL_NUMBER, 250)
    # The simulator has the relay's answer in hand: the payment must be on disk by now.
    stored = await rows(relay_server.database_url, "SELECT * FROM c2b_payment")
    raw = await rows(relay_server.database_url, "SELECT path, status, error FROM raw_callback")
    confirmations = [entry for entry in (await simulator.log())["c2b"] if entry["kind"] == CONFIRMATION]
    assert [(c["status"], c["answer"]) for c in confirmations] == [(200, SUCCESS)]
    assert [(r["trans_id"], r["amount_kes"], r["first_name"], r["phone_masked"]) for r in stored] == [
        (paid["TransID"], 250, "DEMO", "2547*****149")
    ]
    assert [(r["path"], r["status"], r["error"]) for r in raw] == [
        (shop.ref.url(CONFIRMATION), "c2b_applied", None)
    ]
    assert not forbidden_url_words(shop.ref.url(CONFIRMATION, relay_server.base_url))


async def test_every_till_of_the_shop_sees_the_payment_live_and_another_shop_never_does(
    relay_server: RunningRelay, simulator: RunningSimulator
) -> None:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front", "back"])
    other = await make_shop(relay_server, "jirani", "5999999", ["theirs"])
    await register_relay(simulator, relay_server, shop.ref)
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=40) as client:
        polls = [
            asyncio.create_task(client.get("/api/v1/results?after=0&wait=30", headers=auth(key)))
            for key in shop.keys.values()
        ]
        await relay_server.long_polls_waiting(2)
        paid = await customer_pays(simulator, TILL_NUMBER, 120)
        pages = [decode((await asyncio.wait_for(poll, 10)).content, FeedPage) for poll in polls]
        theirs = await feed(client, other.keys["theirs"])
        not_theirs = await client.get(
            f"/api/v1/receipts/{paid['TransID']}", headers=auth(other.keys["theirs"])
        )
        ours = await client.get(f"/api/v1/receipts/{paid['TransID']}", headers=auth(shop.keys["back"]))
    for page in pages:
        [item] = page.items
        assert item.kind == "c2b" and item.c2b is not None
        assert (item.c2b.trans_id, item.c2b.amount_kes, item.c2b.claimed_by) == (paid["TransID"], 120, None)
        assert (item.c2b.first_name, item.c2b.phone, item.c2b.shortcode) == (
            "DEMO",
            "2547*****149",
            TILL_NUMBER,
        )
        # Neutral STK fields: no sale of a till that reads every entry as its payment matches it.
        assert (item.order_id, item.checkout_request_id, item.status) == ("", "", "pending")
    assert theirs == []
    assert not_theirs.status_code == 404
    receipt = decode(ours.content, ReceiptAnswer)
    assert (receipt.receipt, receipt.amount_kes, receipt.order_id, receipt.checkout_request_id) == (
        paid["TransID"],
        120,
        None,
        "",
    )
    assert receipt.c2b is not None and receipt.c2b.first_name == "DEMO"


async def test_a_duplicate_transid_changes_nothing(
    relay_server: RunningRelay, simulator: RunningSimulator
) -> None:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front"])
    await register_relay(simulator, relay_server, shop.ref)
    # The simulator's scenario number whose confirmation arrives twice with one TransID.
    paid = await customer_pays(simulator, TILL_NUMBER, 40, phone="254711000006")
    assert paid["confirmations_delivered"] == 2
    stored = await rows(relay_server.database_url, "SELECT trans_id, duplicates FROM c2b_payment")
    raw = await rows(relay_server.database_url, "SELECT status FROM raw_callback ORDER BY id")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        items = await feed(client, shop.keys["front"])
    assert stored == [{"trans_id": paid["TransID"], "duplicates": 1}]
    assert [r["status"] for r in raw] == ["c2b_applied", "c2b_duplicate"]
    assert len(items) == 1


async def test_validation_is_accepted_at_once_and_kept_raw(
    relay_server: RunningRelay, simulator_factory: SimulatorFactory
) -> None:
    simulator = await simulator_factory(c2b_validation=True)
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front"])
    await register_relay(simulator, relay_server, shop.ref)
    paid = await customer_pays(simulator, TILL_NUMBER, 75)
    log = [
        (e["kind"], e["status"], e["answer"])
        for e in (await simulator.log())["c2b"]
        if e["kind"] != "payment"
    ]
    assert log == [
        (VALIDATION, 200, {"ResultCode": "0", "ResultDesc": "Accepted"}),
        (CONFIRMATION, 200, SUCCESS),
    ]
    assert paid["status"] == "completed"
    raw = await rows(relay_server.database_url, "SELECT status FROM raw_callback ORDER BY id")
    assert [r["status"] for r in raw] == ["c2b_validation", "c2b_applied"]
    # A validation is never a payment on its own: one payment, from the confirmation.
    assert len(await rows(relay_server.database_url, "SELECT id FROM c2b_payment")) == 1


async def test_garbage_bodies_are_kept_raw_and_never_claimable(relay_server: RunningRelay) -> None:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front"])
    url = shop.ref.url(CONFIRMATION)
    valid = {
        "TransID": "UL2SIM0001",
        "TransAmount": "10.00",
        "BusinessShortCode": TILL_NUMBER,
        "MSISDN": PAYER,
    }
    bodies = [
        b"{nope",
        b"[]",
        {**valid, "TransAmount": "ten"},
        {**valid, "TransAmount": "10.50"},
        {**valid, "TransID": ""},
        {**valid, "BusinessShortCode": "5000001"},  # another shop's number on this shop's path
    ]
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        for body in bodies:
            answer = await (
                client.post(url, content=body) if isinstance(body, bytes) else client.post(url, json=body)
            )
            assert (answer.status_code, answer.json()) == (200, SUCCESS)
        unknown = await client.post(f"/api/v1/callbacks/c2b/{'0' * 32}/{CONFIRMATION}", json=valid)
        claim = await client.post(
            "/api/v1/c2b/UL2SIM0001/claim", json={"order_id": "sale-1"}, headers=auth(shop.keys["front"])
        )
        items = await feed(client, shop.keys["front"])
    assert (unknown.status_code, unknown.json()) == (200, SUCCESS)
    assert claim.status_code == 404
    assert items == []
    raw = await rows(relay_server.database_url, "SELECT status, body FROM raw_callback ORDER BY id")
    assert [r["status"] for r in raw] == ["malformed"] * 5 + ["wrong_shortcode", "unknown_token"]
    assert raw[0]["body"] == b"{nope"
    assert await rows(relay_server.database_url, "SELECT id FROM c2b_payment") == []


async def test_two_tills_racing_to_claim_one_payment_one_wins_and_release_is_audited(
    relay_server: RunningRelay, simulator: RunningSimulator
) -> None:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front", "back"])
    await register_relay(simulator, relay_server, shop.ref)
    paid = [await customer_pays(simulator, TILL_NUMBER, 10 + index) for index in range(5)]
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=15) as client:
        for payment in paid:
            trans_id = payment["TransID"]
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/c2b/{trans_id}/claim",
                        json={"order_id": f"{till}-{trans_id}"},
                        headers=auth(key),
                    )
                    for till, key in shop.keys.items()
                )
            )
            assert sorted(a.status_code for a in answers) == [200, 409]
            winner = next(a for a in answers if a.status_code == 200).json()["claimed_by"]
            loser = next(a for a in answers if a.status_code == 409).json()
            assert loser["extra"]["claimed_by"] == winner
            assert winner in loser["detail"]
        first = paid[0]["TransID"]
        claimed_by = (await client.get(f"/api/v1/receipts/{first}", headers=auth(shop.keys["back"]))).json()[
            "order_id"
        ]
        released = await client.post(
            f"/api/v1/c2b/{first}/release", json={"released_by": "owner"}, headers=auth(shop.keys["back"])
        )
        again = await client.post(
            f"/api/v1/c2b/{first}/claim", json={"order_id": "back-retry"}, headers=auth(shop.keys["back"])
        )
        front_feed = decode(
            (await client.get("/api/v1/results", headers=auth(shop.keys["front"]))).content, FeedPage
        ).items
    assert released.status_code == 200 and released.json()["claimed_by"] is None
    assert again.status_code == 200 and again.json()["claimed_by"] == "back-retry"
    # The other till saw each payment arrive and each claim change, in order.
    latest: dict[str, str | None] = {}
    for item in front_feed:
        assert item.c2b is not None
        latest[item.c2b.trans_id] = item.c2b.claimed_by
    assert latest[first] == "back-retry"
    events = await rows(
        relay_server.database_url,
        "SELECT e.action, e.order_id, e.by FROM claim_event e JOIN c2b_payment p ON p.id = e.c2b_payment_id "
        f"WHERE p.trans_id = '{first}' ORDER BY e.id",
    )
    assert [(e["action"], e["order_id"], e["by"]) for e in events] == [
        ("claim", claimed_by, ""),
        ("refused", events[1]["order_id"], ""),
        ("release", claimed_by, "owner"),
        ("claim", "back-retry", ""),
    ]
    assert events[1]["order_id"] != claimed_by


async def test_the_same_sale_claiming_again_is_not_refused_and_a_till_outside_the_shop_finds_nothing(
    relay_server: RunningRelay, simulator: RunningSimulator
) -> None:
    shop = await make_shop(relay_server, "duka", TILL_NUMBER, ["front"])
    loner, _ = await relay_server.create_till("loner")
    await register_relay(simulator, relay_server, shop.ref)
    trans_id = (await customer_pays(simulator, TILL_NUMBER, 10))["TransID"]
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        url = f"/api/v1/c2b/{trans_id}/claim"
        answers = [
            await client.post(url, json={"order_id": "s1"}, headers=auth(shop.keys["front"]))
            for _ in range(2)
        ]
        outside = await client.post(url, json={"order_id": "s2"}, headers=auth(loner))
        empty = await client.post(url, json={"order_id": " "}, headers=auth(shop.keys["front"]))
        nokey = await client.post(url, json={"order_id": "s3"})
    assert [a.status_code for a in answers] == [200, 200]
    assert (outside.status_code, empty.status_code, nokey.status_code) == (404, 400, 401)


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def test_the_cli_creates_a_shop_adds_tills_and_prints_its_c2b_urls(
    relay_server: RunningRelay, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", relay_server.database_url)
    await relay_server.create_till("front")
    code, out, _ = await asyncio.to_thread(run_cli, "create-shop", "duka", TILL_NUMBER)
    assert code == 0 and "shop: duka (shortcode 5123456)" in out
    code, out, _ = await asyncio.to_thread(run_cli, "add-till-to-shop", "duka", "front")
    assert code == 0
    code, out, _ = await asyncio.to_thread(
        run_cli, "c2b-token", "duka", "--base-url", "https://relay.example.com"
    )
    lines = dict(
        line.split(": ", 1) for line in out.splitlines() if line.endswith((CONFIRMATION, VALIDATION))
    )
    assert code == 0
    assert lines["confirmation URL"].startswith("https://relay.example.com/api/v1/callbacks/c2b/")
    assert lines["validation URL"].endswith("/validation")
    code, out, _ = await asyncio.to_thread(
        run_cli, "c2b-token", "duka", "--base-url", "https://mpesa.example.com"
    )
    assert "WARNING" in out and "mpesa" in out
    code, _, err = await asyncio.to_thread(run_cli, "create-shop", "other", TILL_NUMBER)
    assert code == 1 and "already has this name or shortcode" in err
    code, _, err = await asyncio.to_thread(run_cli, "add-till-to-shop", "duka", "nobody")
    assert code == 1 and "no till named 'nobody'" in err


async def test_a_confirmation_refused_by_the_allow_list_is_replayed_as_a_c2b_payment(
    relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    relay = await relay_factory(ip_allowlist_enabled=True)
    shop = await make_shop(relay, "duka", TILL_NUMBER, ["front"])
    body = {
        "TransID": "UL2SIM0002",
        "TransAmount": "10.00",
        "BusinessShortCode": TILL_NUMBER,
        "MSISDN": PAYER,
    }
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        answer = await client.post(shop.ref.url(CONFIRMATION), json=body)
    assert (answer.status_code, answer.json()) == (200, SUCCESS)
    [raw] = await rows(relay.database_url, "SELECT id, status FROM raw_callback")
    assert raw["status"] == "forbidden_source"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", relay.database_url)
    monkeypatch.setenv("RELAY_IP_ALLOWLIST", "false")  # the allow-list was wrong; fixed now
    code, out, _ = await asyncio.to_thread(run_cli, "replay", str(raw["id"]))
    assert (code, out.strip()) == (0, f"callback {raw['id']}: c2b_applied")
    code, _, err = await asyncio.to_thread(run_cli, "replay", str(raw["id"]))
    assert code == 1 and "processed already" in err
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        items = await feed(client, shop.keys["front"])
    assert [item["c2b"]["trans_id"] for item in items] == ["UL2SIM0002"]


async def test_a_till_reads_its_shop_and_the_paths_of_the_shops_c2b_urls(relay_server: RunningRelay) -> None:
    shop = await make_shop(relay_server, "duka", "5123456", ["front"])
    lone_key, _ = await relay_server.create_till("lone")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        front = (await client.get("/api/v1/till", headers=auth(shop.keys["front"]))).json()
        lone = (await client.get("/api/v1/till", headers=auth(lone_key))).json()
    assert front["shop"] == {
        "name": "duka",
        "shortcode": "5123456",
        "confirmation_path": shop.ref.url(CONFIRMATION),
        "validation_path": shop.ref.url(VALIDATION),
    }
    assert lone["shop"] is None
