"""The till's relay client decodes the real relay's answers into the contract's types, and turns an
answer that is not the contract (served by a stand-in on loopback) into RelayProtocolError."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar, Response, get
from litestar.params import FromPath, FromQuery

from daraja_core.contract import FeedItem, FeedKind, Payment, PaymentStatus, ReceiptAnswer
from daraja_core.serve import serving
from pos_app.engine.relay_client import RelayClient, RelayProtocolError
from relay.simulate import stk_callback_bytes
from tests.support.relay_fixtures import RunningRelay

PHONE = "254708374149"


async def test_the_real_relays_answers_decode_into_the_contract(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient() as http:
        relay = RelayClient(relay_server.base_url, key, http)
        registered = await relay.register(
            order_id="A1", checkout_request_id="ws_CO_D1", amount_kes=10, phone="0708374149"
        )
        assert type(registered) is Payment and registered.status is PaymentStatus.PENDING
        assert registered.result_code is None and registered.receipt is None
        await http.post(
            relay_server.base_url + path,
            content=stk_callback_bytes("ws_CO_D1", amount=10, phone=PHONE, receipt="TKD1234567"),
        )
        settled = await relay.status("A1", wait_s=5)
        assert settled is not None and settled.status is PaymentStatus.COMPLETED
        assert (settled.receipt, settled.result_code, settled.paid_amount_kes) == ("TKD1234567", "0", 10)
        assert settled.settled_time is not None and settled.settled_time.utcoffset() is not None
        items, next_after = await relay.results(after=0)
        assert [type(i) for i in items] == [FeedItem] and items[0].kind is FeedKind.RESULT
        assert next_after == items[0].seq
        found = await relay.receipt("TKD1234567")
        assert isinstance(found, ReceiptAnswer) and found.order_id == "A1" and found.amount_kes == 10


PAYMENT: dict[str, Any] = {
    "order_id": "A1",
    "checkout_request_id": "ws_CO_X",
    "status": "completed",
    "transactionId": "TKX1234567",
    "result_code": "0",
    "reason": "ok",
    "amount_kes": 10,
    "paid_amount_kes": 10,
    "phone": "2547*****149",
    "anomaly": None,
    "registered_at": "2026-11-21T09:00:00+00:00",
    "settled_at": "2026-11-21T09:00:05+00:00",
}
FEED_ITEM = PAYMENT | {"seq": 7, "kind": "result"}

#: order id → the body the stand-in relay answers to its status.
MALFORMED_STATUS: dict[str, bytes] = {
    "no-status": json.dumps({k: v for k, v in PAYMENT.items() if k != "status"}).encode(),
    "amount-as-text": json.dumps(PAYMENT | {"amount_kes": "10"}).encode(),
    "unknown-status": json.dumps(PAYMENT | {"status": "paid"}).encode(),
    "settled-without-code": json.dumps(PAYMENT | {"result_code": None}).encode(),
    "not-json": b"<html>proxy error</html>",
    "a-list": b"[]",
}
#: ?after= → the feed page the stand-in answers.
FEEDS: dict[int, bytes] = {
    0: json.dumps({"items": [{k: v for k, v in FEED_ITEM.items() if k != "seq"}], "next_after": 7}).encode(),
    1: json.dumps({"items": [FEED_ITEM]}).encode(),
    2: json.dumps(
        {"items": [FEED_ITEM | {"seq": 8, "kind": "c2b_payment"}, FEED_ITEM | {"seq": 9}], "next_after": 9}
    ).encode(),
}


@get("/api/v1/payments/{order_id:str}/status")
async def status(order_id: FromPath[str]) -> Response[bytes]:
    return Response(MALFORMED_STATUS[order_id], media_type="application/json")


@get("/api/v1/results")
async def results(after: FromQuery[int]) -> Response[bytes]:
    return Response(FEEDS[after], media_type="application/json")


@pytest.fixture
async def stand_in() -> AsyncIterator[RelayClient]:
    async with (
        serving(Litestar([status, results], openapi_config=None)) as server,
        httpx.AsyncClient() as http,
    ):
        yield RelayClient(server.base_url, "key", http)


@pytest.mark.parametrize("order_id", list(MALFORMED_STATUS))
async def test_a_malformed_payment_answer_is_a_protocol_error(stand_in: RelayClient, order_id: str) -> None:
    with pytest.raises(RelayProtocolError, match="status answer is not the contract's"):
        await stand_in.status(order_id)


@pytest.mark.parametrize("after", [0, 1], ids=["item-without-seq", "page-without-next-after"])
async def test_a_malformed_feed_page_is_a_protocol_error(stand_in: RelayClient, after: int) -> None:
    with pytest.raises(RelayProtocolError, match="is not the contract's"):
        await stand_in.results(after=after)


async def test_a_feed_entry_of_a_kind_this_till_does_not_know_is_skipped(stand_in: RelayClient) -> None:
    items, next_after = await stand_in.results(after=2)
    assert [(item.seq, item.kind) for item in items] == [(9, FeedKind.RESULT)]
    assert next_after == 9
