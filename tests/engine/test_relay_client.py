"""The till's relay client against the REAL relay under uvicorn (the contract in docs/architecture.md,
pinned from the till's side)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pos_app.engine.relay_client import RelayClient, RelayConflict, RelayRefused, RelayUnavailable
from tests.support.relay_fixtures import RunningRelay


def paid_callback(checkout_request_id: str, amount: int, receipt: str) -> dict[str, object]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "m-1",
                "CheckoutRequestID": checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "TransactionDate", "Value": 20261121120000},
                        {"Name": "PhoneNumber", "Value": 254708374149},
                    ]
                },
            }
        }
    }


async def test_register_long_poll_feed_and_receipt_follow_the_contract(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("contract")
    async with httpx.AsyncClient() as http:
        relay = RelayClient(relay_server.base_url, key, http)
        name, callback_path = await relay.till_info()
        assert name == "contract" and callback_path == path
        registered = await relay.register(
            order_id="A1", checkout_request_id="ws_CO_C1", amount_kes=10, phone="254708374149"
        )
        assert registered.status == "pending" and registered.receipt is None
        again = await relay.register(
            order_id="A1", checkout_request_id="ws_CO_C1", amount_kes=10, phone="254708374149"
        )
        assert again.status == "pending"  # idempotent
        with pytest.raises(RelayConflict):
            await relay.register(
                order_id="A1", checkout_request_id="ws_CO_C1", amount_kes=11, phone="254708374149"
            )
        waiting = asyncio.create_task(relay.status("A1", wait_s=20))
        await relay_server.long_polls_waiting(1)
        assert not waiting.done()
        await http.post(relay_server.base_url + path, json=paid_callback("ws_CO_C1", 10, "TK3AB12CDE"))
        payment = await asyncio.wait_for(waiting, 3)
        assert payment is not None and payment.status == "completed"
        assert (
            payment.receipt == "TK3AB12CDE" and payment.result_code == "0" and payment.paid_amount_kes == 10
        )
        items, next_after = await relay.results(after=0)
        assert [(i.kind, i.order_id) for i in items] == [("result", "A1")] and next_after >= items[0].seq
        assert (await relay.results(after=next_after))[0] == []
        found = await relay.receipt("TK3AB12CDE")
        assert found is not None and found.amount_kes == 10 and found.order_id == "A1"
        assert await relay.receipt("TK3ZZ99ZZZ") is None
        assert await relay.status("NOPE") is None
        assert (await relay.health()).ok


async def test_a_wrong_key_is_refused_and_a_dead_relay_is_unavailable(relay_server: RunningRelay) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(RelayRefused):
            await RelayClient(relay_server.base_url, "not-a-key", http).till_info()
        with pytest.raises(RelayUnavailable):
            await RelayClient("http://127.0.0.1:9", "k", http, timeout_s=1).status("A1")


def test_the_key_never_shows_in_the_clients_repr() -> None:
    assert "sekret" not in repr(RelayClient("http://relay", "sekret", httpx.AsyncClient()))
