"""The till's side of the relay: keys, registration, status and long-poll, feed, receipts."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from relay.simulate import stk_callback_bytes
from tests.relay.conftest import SEED_CHECKOUT_ID, SEED_CURL, InProcessRelay, auth, registration
from tests.support.relay_fixtures import RunningRelay


async def test_a_request_without_a_valid_till_key_is_refused(relay: InProcessRelay) -> None:
    assert (await relay.client.get("/api/v1/till")).status_code == 401
    assert (await relay.client.get("/api/v1/till", headers=auth("rk_not-a-key"))).status_code == 401
    assert (await relay.client.get("/api/v1/till", headers={"Authorization": "Basic abc"})).status_code == 401


async def test_a_till_learns_its_name_and_callback_path(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front-counter")
    answer = (await relay.client.get("/api/v1/till", headers=auth(key))).json()
    assert answer == {"name": "front-counter", "callback_path": path, "shop": None}  # no shop: no C2B
    assert path.startswith("/api/v1/callbacks/stk/")
    token = path.rsplit("/", 1)[1]
    for word in ("mpesa", "safaricom", "exe", "cmd", "sql", "query"):
        assert word not in path.lower()
    assert token == token.lower()


async def test_a_revoked_key_is_refused(relay: InProcessRelay) -> None:
    key, _ = await relay.create_till("front")
    await relay.revoke("front")
    assert (await relay.client.get("/api/v1/till", headers=auth(key))).status_code == 401


async def test_registration_is_idempotent_on_the_checkout_request_id(relay: InProcessRelay) -> None:
    key, _ = await relay.create_till("front")
    first = await relay.register(key, "o", "ws_CO_1", 10)
    again = await relay.register(key, "o", "ws_CO_1", 10)
    assert first == again
    assert first["status"] == "pending"
    assert first["registered_at"] is not None


async def test_the_same_checkout_id_with_other_details_is_a_conflict(relay: InProcessRelay) -> None:
    key, _ = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_1", 10)
    answer = await relay.client.post(
        "/api/v1/payments", json=registration("o", "ws_CO_1", 11), headers=auth(key)
    )
    assert answer.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"order_id": "o", "checkout_request_id": "ws_CO_1", "amount_kes": "10", "phone": "254708374149"},
        {"order_id": "o", "checkout_request_id": "ws_CO_1", "amount_kes": 10.5, "phone": "254708374149"},
        {"order_id": "o", "checkout_request_id": "ws_CO_1", "amount_kes": 0, "phone": "254708374149"},
        {"order_id": "o", "checkout_request_id": "ws_CO_1", "amount_kes": 10, "phone": "12345"},
        {"order_id": "", "checkout_request_id": "ws_CO_1", "amount_kes": 10, "phone": "254708374149"},
        {"order_id": "o", "amount_kes": 10, "phone": "254708374149"},
    ],
    ids=["amount-string", "amount-fraction", "amount-zero", "bad-phone", "empty-order", "missing-id"],
)
async def test_an_invalid_registration_is_refused_with_400(
    relay: InProcessRelay, body: dict[str, object]
) -> None:
    key, _ = await relay.create_till("front")
    answer = await relay.client.post("/api/v1/payments", json=body, headers=auth(key))
    assert answer.status_code == 400


async def test_a_till_cannot_read_or_claim_another_tills_payment(relay: InProcessRelay) -> None:
    key_a, path_a = await relay.create_till("a")
    key_b, _ = await relay.create_till("b")
    await relay.register(key_a, "order-a", SEED_CHECKOUT_ID)
    await relay.callback(path_a, SEED_CURL)
    assert (await relay.client.get("/api/v1/payments/order-a/status", headers=auth(key_b))).status_code == 404
    assert (await relay.client.get("/api/v1/receipts/NLJ7RT61SV", headers=auth(key_b))).status_code == 404
    assert (await relay.client.get("/api/v1/results", headers=auth(key_b))).json()["items"] == []
    claim = await relay.client.post(
        "/api/v1/payments", json=registration("order-b", SEED_CHECKOUT_ID), headers=auth(key_b)
    )
    assert claim.status_code == 409
    assert (await relay.status(key_a, "order-a"))["status"] == "completed"


async def test_an_unknown_order_is_404(relay: InProcessRelay) -> None:
    key, _ = await relay.create_till("front")
    assert (await relay.client.get("/api/v1/payments/nope/status", headers=auth(key))).status_code == 404


async def test_the_status_is_the_newest_payment_of_an_order_charged_again(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_A", 10)
    await relay.callback(path, stk_callback_bytes("ws_CO_A", result_code=1032))
    assert (await relay.status(key, "o"))["status"] == "failed"
    await relay.register(key, "o", "ws_CO_B", 10)
    status = await relay.status(key, "o")
    assert (status["checkout_request_id"], status["status"]) == ("ws_CO_B", "pending")


# The long-poll timing tests run the relay under uvicorn: Litestar's AsyncTestClient serves each request to
# its end before the test's loop runs again, so a parked long-poll cannot be seen from the test.


async def test_a_long_poll_times_out_with_the_current_status(relay_server: RunningRelay) -> None:
    key, _ = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=15) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_WAIT", 10), headers=auth(key))
        poll = asyncio.create_task(client.get("/api/v1/payments/o/status?wait=1", headers=auth(key)))
        await relay_server.long_polls_waiting(1)  # it waits rather than answering at once
        answer = await asyncio.wait_for(poll, 10)
    assert answer.json()["status"] == "pending"


async def test_a_long_poll_on_a_settled_payment_answers_at_once(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=40) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_DONE", 10), headers=auth(key))
        await client.post(path, content=stk_callback_bytes("ws_CO_DONE", amount=10))
        poll = client.get("/api/v1/payments/o/status?wait=30", headers=auth(key))
        answer = await asyncio.wait_for(poll, 10)  # not after its 30 s wait
    assert answer.json()["status"] == "completed"


@pytest.mark.parametrize("wait", ["-1", "31", "abc"])
async def test_a_wait_outside_0_to_30_seconds_is_refused(relay: InProcessRelay, wait: str) -> None:
    key, _ = await relay.create_till("front")
    await relay.register(key, "o", "ws_CO_W", 10)
    answer = await relay.client.get(f"/api/v1/payments/o/status?wait={wait}", headers=auth(key))
    assert answer.status_code == 400


async def test_the_feed_lets_an_offline_till_catch_up_with_nothing_missed(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front")
    for index in range(5):
        await relay.register(key, f"o{index}", f"ws_CO_F{index}", 10)
    for index in range(5):
        await relay.callback(path, stk_callback_bytes(f"ws_CO_F{index}", amount=10))
    first = (await relay.client.get("/api/v1/results?after=0&limit=3", headers=auth(key))).json()
    assert [item["order_id"] for item in first["items"]] == ["o0", "o1", "o2"]
    assert all(item["kind"] == "result" and item["status"] == "completed" for item in first["items"])
    rest = (await relay.client.get(f"/api/v1/results?after={first['next_after']}", headers=auth(key))).json()
    assert [item["order_id"] for item in rest["items"]] == ["o3", "o4"]
    seqs = [item["seq"] for item in first["items"] + rest["items"]]
    assert seqs == sorted(seqs)
    empty = (await relay.client.get(f"/api/v1/results?after={rest['next_after']}", headers=auth(key))).json()
    assert empty == {"items": [], "next_after": rest["next_after"]}


async def test_a_feed_wait_times_out_empty(relay_server: RunningRelay) -> None:
    key, _ = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=15) as client:
        poll = asyncio.create_task(client.get("/api/v1/results?after=0&wait=1", headers=auth(key)))
        await relay_server.long_polls_waiting(1)  # it waits rather than answering at once
        answer = (await asyncio.wait_for(poll, 10)).json()
    assert answer == {"items": [], "next_after": 0}


async def test_a_receipt_is_found_for_manual_verification(relay: InProcessRelay) -> None:
    key, path = await relay.create_till("front")
    await relay.register(key, "o", SEED_CHECKOUT_ID)
    await relay.callback(path, SEED_CURL)
    answer = await relay.client.get("/api/v1/receipts/nlj7rt61sv", headers=auth(key))
    assert answer.status_code == 200
    assert answer.json() == {
        "receipt": "NLJ7RT61SV",
        "amount_kes": 1,
        "phone": "2547*****149",
        "checkout_request_id": SEED_CHECKOUT_ID,
        "order_id": "o",
        "transaction_date": "2019-12-19T07:21:15+00:00",
        "result_code": "0",
    }
    assert (await relay.client.get("/api/v1/receipts/NXXXXXXXXX", headers=auth(key))).status_code == 404


async def test_a_receipt_from_an_unregistered_callback_on_this_tills_path_is_found(
    relay: InProcessRelay,
) -> None:
    key, path = await relay.create_till("front")
    await relay.callback(path, stk_callback_bytes("ws_CO_LATE", amount=30, receipt="TKL1112223"))
    answer = await relay.client.get("/api/v1/receipts/TKL1112223", headers=auth(key))
    assert answer.status_code == 200
    assert (answer.json()["amount_kes"], answer.json()["order_id"]) == (30, None)


async def test_concurrent_registrations_and_callbacks_through_the_writer_all_land(
    relay: InProcessRelay,
) -> None:
    key, path = await relay.create_till("front")
    await asyncio.gather(*(relay.register(key, f"o{i}", f"ws_CO_C{i}", 10) for i in range(20)))
    await asyncio.gather(
        *(relay.callback(path, stk_callback_bytes(f"ws_CO_C{i}", amount=10)) for i in range(20))
    )
    statuses = [await relay.status(key, f"o{i}") for i in range(20)]
    assert {s["status"] for s in statuses} == {"completed"}
