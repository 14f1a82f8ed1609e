"""Access over real HTTP: a till key reads only its own till's payments, feed, receipts, self-tests and its
shop's C2B payments; a revoked key is refused at once by every instance; the admin endpoints are closed
unless the operator opens them."""

from __future__ import annotations

import httpx
import pytest

from daraja_core.contract import SELFTEST_PREFIX
from relay.db import Database
from relay.settings import RelaySettings
from relay.simulate import stk_callback_bytes
from relay.tills import revoke_till_key
from tests.relay.c2b_support import customer_pays, make_shop, register_relay
from tests.relay.conftest import auth, registration
from tests.support.relay_fixtures import RelayFactory, RunningRelay
from tests.support.simulator_fixtures import RunningSimulator

TILL_NUMBER = "5123456"
OTHER_TILL_NUMBER = "5654321"


async def test_a_till_key_never_reads_another_tills_payments_feed_receipts_selftests_or_c2b(
    relay_server: RunningRelay, simulator: RunningSimulator
) -> None:
    ours = await make_shop(relay_server, "duka", TILL_NUMBER, ["front"])
    theirs = await make_shop(relay_server, "kiosk", OTHER_TILL_NUMBER, ["back"])
    front, back = ours.keys["front"], theirs.keys["back"]
    await register_relay(simulator, relay_server, ours.ref)
    trans_id = (await customer_pays(simulator, TILL_NUMBER, 25))["TransID"]
    selftest_id = f"{SELFTEST_PREFIX}access"
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=10) as client:
        path = (await client.get("/api/v1/till", headers=auth(front))).json()["callback_path"]
        await client.post(
            "/api/v1/payments", json=registration("o-front", "ws_CO_FRONT", 10), headers=auth(front)
        )
        for body in (
            stk_callback_bytes("ws_CO_FRONT", amount=10, receipt="TKL5550001"),
            stk_callback_bytes(selftest_id, amount=1, receipt="TKL5550002"),
        ):
            assert (await client.post(path, content=body)).status_code == 200

        reads = {
            "status": "/api/v1/payments/o-front/status",
            "receipt": "/api/v1/receipts/TKL5550001",
            "c2b receipt": f"/api/v1/receipts/{trans_id}",
            "selftest": f"/api/v1/selftest/{selftest_id}",
        }
        own = {name: (await client.get(url, headers=auth(front))).status_code for name, url in reads.items()}
        other = {name: (await client.get(url, headers=auth(back))).status_code for name, url in reads.items()}
        own_feed = (await client.get("/api/v1/results", headers=auth(front))).json()["items"]
        other_feed = (await client.get("/api/v1/results", headers=auth(back))).json()["items"]
        claims = [
            (await client.post(f"/api/v1/c2b/{trans_id}/{verb}", json={"order_id": "x"}, headers=auth(back)))
            for verb in ("claim", "release")
        ]
    assert own == dict.fromkeys(reads, 200)
    assert other == dict.fromkeys(reads, 404)
    assert len(own_feed) >= 2  # its paid payment and its shop's C2B payment
    assert other_feed == []
    assert [answer.status_code for answer in claims] == [404, 404]
    assert all(trans_id not in answer.text and "o-front" not in answer.text for answer in claims)


@pytest.mark.postgres
async def test_a_revoked_key_is_refused_at_once_by_every_instance(
    pg_url: str, relay_factory: RelayFactory
) -> None:
    one = await relay_factory(database_url=pg_url)
    two = await relay_factory(database_url=pg_url)
    key, _ = await one.create_till("front")
    reads = ["/api/v1/till", "/api/v1/results", "/api/v1/payments/o/status"]
    async with httpx.AsyncClient(timeout=10) as client:
        await client.post(
            f"{one.base_url}/api/v1/payments", json=registration("o", "ws_CO_R", 10), headers=auth(key)
        )
        before = [
            (await client.get(r.base_url + url, headers=auth(key))).status_code
            for r in (one, two)
            for url in reads
        ]
        db = Database(pg_url)
        try:
            await db.write(lambda c: revoke_till_key(c, "front"))
        finally:
            await db.dispose()
        after = [
            (await client.get(r.base_url + url, headers=auth(key))).status_code
            for r in (one, two)
            for url in reads
        ]
        register = await client.post(
            f"{two.base_url}/api/v1/payments", json=registration("p", "ws_CO_S", 10), headers=auth(key)
        )
    assert before == [200] * 6
    assert after == [401] * 6
    assert register.status_code == 401


async def test_admin_endpoints_are_closed_by_default_in_production_settings(
    relay_factory: RelayFactory,
) -> None:
    production = RelaySettings.from_env({"DATABASE_URL": "sqlite+aiosqlite:///unused.db"})
    assert (production.admin_token, production.admin_open) == (None, False)
    closed = await relay_factory()  # the same defaults
    opened = await relay_factory(admin_open=True)
    async with httpx.AsyncClient(timeout=10) as client:
        answers = {
            (name, url): (await client.get(relay.base_url + url)).status_code
            for name, relay in (("closed", closed), ("open", opened))
            for url in ("/metrics", "/api/v1/alerts")
        }
        health = [(await client.get(closed.base_url + url)).status_code for url in ("/healthz", "/readyz")]
    assert answers == {
        ("closed", "/metrics"): 403,
        ("closed", "/api/v1/alerts"): 403,
        ("open", "/metrics"): 200,
        ("open", "/api/v1/alerts"): 200,
    }
    assert health == [200, 200]
