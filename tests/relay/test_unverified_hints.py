"""A result on the untokenised seed path from an address not on Safaricom's list is a hint, not a fact
(docs/daraja.md §5: callbacks carry no signature): the relay keeps it marked unverified, the payment says
so, and a later genuine result (tokenised path, or an allow-listed source) wins over it. Real HTTP to the
relay under uvicorn, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from relay.db import Database
from relay.models import raw_table
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import ACK, SEED_PATH, auth, registration
from tests.support.relay_fixtures import RelayFactory

SAFARICOM = "196.201.214.200"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"


async def raw_statuses(database_url: str) -> list[tuple[str, str | None]]:
    db = Database(database_url)
    try:
        return await db.read(
            lambda c: [
                (row.status, row.error)
                for row in c.execute(
                    sa.select(raw_table.c.status, raw_table.c.error).order_by(raw_table.c.id)
                )
            ]
        )
    finally:
        await db.dispose()


async def post(client: httpx.AsyncClient, path: str, body: bytes, source: str | None = None) -> None:
    headers = {"X-Forwarded-For": source} if source else {}
    answer = await client.post(path, content=body, headers=headers)
    assert (answer.status_code, answer.json()) == (200, ACK)


async def test_a_forged_cancel_first_is_unverified_and_the_genuine_paid_result_wins(
    database_url: str, relay_factory: RelayFactory
) -> None:
    relay = await relay_factory(database_url=database_url)
    key, path = await relay.create_till("front")
    forged = stk_callback_bytes("ws_CO_1", result_code=1032)
    genuine = stk_callback_bytes("ws_CO_1", amount=10, receipt="TKL5550001")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_1", 10), headers=auth(key))
        await post(client, SEED_PATH, forged)  # from loopback: not a Safaricom address
        hinted = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
        feed = (await client.get("/api/v1/results", headers=auth(key))).json()
        await post(client, path, genuine)  # the till's own tokenised path
        final = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
        feed_after = (
            await client.get(f"/api/v1/results?after={feed['next_after']}", headers=auth(key))
        ).json()
    assert (hinted["status"], hinted["result_code"], hinted["unverified"]) == ("failed", "1032", True)
    assert [(item["kind"], item.get("unverified")) for item in feed["items"]] == [("result", True)]
    assert (final["status"], final["transactionId"], final["anomaly"], final["unverified"]) == (
        "completed",
        "TKL5550001",
        None,
        False,
    )
    [item] = feed_after["items"]
    assert (item["kind"], item["status"], "unverified" in item) == ("result", "completed", False)
    (first, _), (second, note) = await raw_statuses(database_url)
    assert (first, second) == ("applied", "applied")
    assert note is not None and "unverified" in note


async def test_a_seed_path_result_from_a_safaricom_address_is_a_fact(
    database_url: str, relay_factory: RelayFactory
) -> None:
    relay = await relay_factory(database_url=database_url, trusted_proxies=("127.0.0.1",))
    key, _ = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_1", 10), headers=auth(key))
        await post(client, SEED_PATH, stk_callback_bytes("ws_CO_1", result_code=1032), SAFARICOM)
        status: dict[str, Any] = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
        # A later forged "paid" on the seed path cannot overturn it: counted, the payment untouched.
        await post(client, SEED_PATH, stk_callback_bytes("ws_CO_1", amount=10))
        after = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert (status["status"], status["unverified"]) == ("failed", False)
    assert (after["status"], after["anomaly"], after["unverified"]) == ("failed", None, False)
    assert [status for status, _ in await raw_statuses(database_url)] == ["applied", "contradicting"]


async def test_an_unverified_paid_result_is_replaced_by_the_genuine_cancel(
    database_url: str, relay_factory: RelayFactory
) -> None:
    relay = await relay_factory(database_url=database_url)
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        # The hint comes before the till registered: it waits as an unverified stored result.
        await post(client, SEED_PATH, stk_callback_bytes("ws_CO_1", amount=10, receipt="TKL5550009"))
        hinted = (
            await client.post("/api/v1/payments", json=registration("o", "ws_CO_1", 10), headers=auth(key))
        ).json()
        await post(client, path, stk_callback_bytes("ws_CO_1", result_code=1032))
        final = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert (hinted["status"], hinted["transactionId"], hinted["unverified"]) == (
        "completed",
        "TKL5550009",
        True,
    )
    assert (final["status"], final["transactionId"], final["result_code"], final["unverified"]) == (
        "failed",
        "",
        "1032",
        False,
    )
    assert [status for status, _ in await raw_statuses(database_url)] == ["orphan", "applied"]
