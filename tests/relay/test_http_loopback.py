"""The relay under uvicorn on loopback, spoken to over real HTTP, the way Safaricom and the till do."""

from __future__ import annotations

import asyncio
import time

import httpx

from relay.simulate import stk_callback_bytes
from tests.relay.conftest import ACK, SEED_CHECKOUT_ID, auth, fixture_bytes, registration
from tests.support.relay_fixtures import RunningRelay


async def test_the_seed_curl_payload_settles_a_registered_payment_over_real_http(
    relay_server: RunningRelay,
) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        registered = await client.post(
            "/api/v1/payments", json=registration("o-1", SEED_CHECKOUT_ID), headers=auth(key)
        )
        assert registered.status_code == 200
        answer = await client.post(
            path,
            content=fixture_bytes("callback_seed_curl.json"),
            headers={"Content-Type": "application/json;charset=UTF-8"},
        )
        assert answer.status_code == 200
        assert answer.json() == ACK
        status = (await client.get("/api/v1/payments/o-1/status", headers=auth(key))).json()
    assert status["status"] == "completed"
    assert status["transactionId"] == "NLJ7RT61SV"
    assert status["paid_amount_kes"] == 1


async def test_a_long_poll_answers_as_soon_as_the_callback_is_committed(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=10) as client:
        await client.post("/api/v1/payments", json=registration("o-2", "ws_CO_LP1", 10), headers=auth(key))
        started = time.perf_counter()
        poll = asyncio.create_task(client.get("/api/v1/payments/o-2/status?wait=8", headers=auth(key)))
        await asyncio.sleep(0.3)
        sent = time.perf_counter()
        await client.post(path, content=stk_callback_bytes("ws_CO_LP1", amount=10))
        answer = await poll
        woke = time.perf_counter()
    assert answer.json()["status"] == "completed"
    assert woke - started < 3
    assert woke - sent < 0.5
