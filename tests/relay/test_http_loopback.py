"""The relay under uvicorn on loopback, spoken to over real HTTP, the way Safaricom and the till do."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import httpx
import sqlalchemy as sa
import uvicorn

from relay.db import Database
from relay.embedded import EmbeddedRelay
from relay.models import raw_table
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import ACK, SEED_CHECKOUT_ID, SEED_CURL, SEED_PATH, auth, registration
from tests.support.relay_fixtures import RelayFactory, RunningRelay

JSON = {"Content-Type": "application/json;charset=UTF-8"}
# How long the relay (uvicorn) keeps an idle connection open.
SERVER_KEEP_ALIVE_S = uvicorn.Config(app="relay").timeout_keep_alive


async def test_the_seed_curl_payload_settles_a_registered_payment_over_real_http(
    relay_server: RunningRelay,
) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        registered = await client.post(
            "/api/v1/payments", json=registration("o-1", SEED_CHECKOUT_ID), headers=auth(key)
        )
        assert registered.status_code == 200
        answer = await client.post(path, content=SEED_CURL, headers=JSON)
        assert answer.status_code == 200
        assert answer.json() == ACK
        seed = await client.post(SEED_PATH, content=SEED_CURL, headers=JSON)
        assert (seed.status_code, seed.json()) == (200, ACK)
        status = (await client.get("/api/v1/payments/o-1/status", headers=auth(key))).json()
    assert status["status"] == "completed"
    assert status["transactionId"] == "NLJ7RT61SV"
    assert status["paid_amount_kes"] == 1


async def test_a_long_poll_answers_as_soon_as_the_callback_is_committed(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=10) as client:
        await client.post("/api/v1/payments", json=registration("o-2", "ws_CO_LP1", 10), headers=auth(key))
        poll = asyncio.create_task(client.get("/api/v1/payments/o-2/status?wait=30", headers=auth(key)))
        await relay_server.long_polls_waiting(1)
        await client.post(path, content=stk_callback_bytes("ws_CO_LP1", amount=10))
        # Long before its 30 s wait is over: the commit woke it (how soon: benchmarks/long_poll.py).
        answer = await asyncio.wait_for(poll, 10)
    assert answer.json()["status"] == "completed"


async def test_a_feed_long_poll_wakes_on_a_new_result(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=10) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_FEED", 10), headers=auth(key))
        poll = asyncio.create_task(client.get("/api/v1/results?after=0&wait=30", headers=auth(key)))
        await relay_server.long_polls_waiting(1)
        await client.post(path, content=stk_callback_bytes("ws_CO_FEED", result_code=1037))
        page = (await asyncio.wait_for(poll, 10)).json()  # woken by the commit, not its 30 s wait
    assert [(item["order_id"], item["status"], item["result_code"]) for item in page["items"]] == [
        ("o", "failed", "1037")
    ]


async def test_200_concurrent_callbacks_are_all_stored_and_applied(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("front")
    # The relay closes a connection idle for uvicorn's keep-alive timeout. httpx's default keep-alive
    # expiry is the same 5 s, so under load a pooled connection was reused in the very loop turn the server
    # timer closed it: the request was in the socket unread, the close sent a reset, and httpx raised
    # ReadError. A client must let idle connections go well before the server does.
    limits = httpx.Limits(max_connections=64, keepalive_expiry=SERVER_KEEP_ALIVE_S / 5)
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=30, limits=limits) as client:
        for start in range(0, 200, 50):
            await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/payments", json=registration(f"o{i}", f"ws_CO_N{i}", 10), headers=auth(key)
                    )
                    for i in range(start, start + 50)
                )
            )
        answers = await asyncio.gather(
            *(
                client.post(path, content=stk_callback_bytes(f"ws_CO_N{i}", amount=10), headers=JSON)
                for i in range(200)
            )
        )
        assert {(a.status_code, a.text) for a in answers} == {
            (200, '{"ResultCode":0,"ResultDesc":"Accepted"}')
        }
        feed = (await client.get("/api/v1/results?after=0&limit=500", headers=auth(key))).json()
    assert sorted(item["order_id"] for item in feed["items"]) == sorted(f"o{i}" for i in range(200))
    assert {item["status"] for item in feed["items"]} == {"completed"}
    db = Database(relay_server.database_url)
    try:
        stored = await db.read(
            lambda c: c.execute(
                sa.select(sa.func.count()).select_from(raw_table).where(raw_table.c.status == "applied")
            ).scalar_one()
        )
    finally:
        await db.dispose()
    assert stored == 200


async def test_a_result_survives_a_restart_between_the_callback_and_the_status_read(
    relay_server: RunningRelay,
) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", SEED_CHECKOUT_ID), headers=auth(key))
        assert (await client.post(path, content=SEED_CURL)).status_code == 200
    await relay_server.restart()
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert (status["status"], status["transactionId"]) == ("completed", "NLJ7RT61SV")


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(relay_factory: RelayFactory) -> None:
    relay = await relay_factory(ip_allowlist_enabled=True, trusted_proxies=("127.0.0.1",))
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        for order, checkout in (("o1", "ws_CO_P1"), ("o2", "ws_CO_P2")):
            await client.post("/api/v1/payments", json=registration(order, checkout, 10), headers=auth(key))
        # Behind our proxy (127.0.0.1 is trusted): the real client is Safaricom's 196.201.212.69.
        await client.post(
            path,
            content=stk_callback_bytes("ws_CO_P1", amount=10),
            headers={"X-Forwarded-For": "10.1.1.1, 196.201.212.69"},
        )
        # The proxy says the client is someone else: refused even though the header mentions Safaricom.
        await client.post(
            path,
            content=stk_callback_bytes("ws_CO_P2", amount=10),
            headers={"X-Forwarded-For": "196.201.212.69, 203.0.113.9"},
        )
        first = (await client.get("/api/v1/payments/o1/status", headers=auth(key))).json()
        second = (await client.get("/api/v1/payments/o2/status", headers=auth(key))).json()
    assert first["status"] == "completed"
    assert second["status"] == "pending"


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(relay_factory: RelayFactory) -> None:
    relay = await relay_factory(ip_allowlist_enabled=True)
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_F1", 10), headers=auth(key))
        await client.post(
            path,
            content=stk_callback_bytes("ws_CO_F1", amount=10),
            headers={"X-Forwarded-For": "196.201.212.69"},
        )
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert status["status"] == "pending"
    db = Database(relay.database_url)
    try:
        source = await db.read(lambda c: c.execute(sa.select(raw_table.c.source_ip)).scalar_one())
    finally:
        await db.dispose()
    assert source == "127.0.0.1"


async def test_the_embedded_relay_keeps_its_key_and_callback_path_across_restarts(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'embedded.db'}"
    key_file = tmp_path / "secrets" / "relay.key"
    first = EmbeddedRelay(url, key_file=key_file, till_name="shop")
    await first.start()
    try:
        assert first.base_url.startswith("http://127.0.0.1:")
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        async with httpx.AsyncClient(base_url=first.base_url) as client:
            till = (await client.get("/api/v1/till", headers=auth(first.till_key))).json()
            assert till == {"name": "shop", "callback_path": first.callback_path, "shop": None}
            await client.post(
                "/api/v1/payments", json=registration("o", SEED_CHECKOUT_ID), headers=auth(first.till_key)
            )
            await client.post(first.callback_path, content=SEED_CURL)
    finally:
        await first.stop()
    second = EmbeddedRelay(url, key_file=key_file, till_name="shop")
    await second.start()
    try:
        assert (second.till_key, second.callback_path) == (first.till_key, first.callback_path)
        async with httpx.AsyncClient(base_url=second.base_url) as client:
            status = (await client.get("/api/v1/payments/o/status", headers=auth(second.till_key))).json()
        assert status["status"] == "completed"
    finally:
        await second.stop()


async def test_the_embedded_relay_issues_a_new_key_when_the_key_file_is_lost(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'embedded.db'}"
    key_file = tmp_path / "relay.key"
    first = EmbeddedRelay(url, key_file=key_file)
    await first.start()
    await first.stop()
    key_file.unlink()
    second = EmbeddedRelay(url, key_file=key_file)
    await second.start()
    try:
        assert second.till_key != first.till_key
        assert second.callback_path == first.callback_path
        async with httpx.AsyncClient(base_url=second.base_url) as client:
            assert (await client.get("/api/v1/till", headers=auth(first.till_key))).status_code == 401
            assert (await client.get("/api/v1/till", headers=auth(second.till_key))).status_code == 200
    finally:
        await second.stop()


async def test_stopping_the_relay_answers_open_long_polls_at_once(relay_server: RunningRelay) -> None:
    key, _ = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=15) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_STOP", 10), headers=auth(key))
        poll = asyncio.create_task(client.get("/api/v1/payments/o/status?wait=30", headers=auth(key)))
        await relay_server.long_polls_waiting(1)
        await relay_server.stop()
        answer = await asyncio.wait_for(poll, 10)  # answered by the stop, not its 30 s wait
    assert (answer.status_code, answer.json()["status"]) == (200, "pending")
