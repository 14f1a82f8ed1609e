"""The orphan look-up: results on a till's own tokenised callback path that no registration claimed, by
amount, phone and time (relay/orphans.py). Real HTTP to the relay under uvicorn, on SQLite and
PostgreSQL (the time window is a comparison each database makes its own way)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from daraja_core.contract import OrphanPage, decode
from relay.models import utcnow
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import ACK, PHONE, SEED_PATH, auth, registration
from tests.support.relay_fixtures import RelayFactory, RunningRelay


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"


def search(amount_kes: int = 10, phone: str = "0708374149", minutes: float = 5) -> dict[str, Any]:
    now = utcnow()
    return {
        "amount_kes": amount_kes,
        "phone": phone,
        "since": (now - timedelta(minutes=minutes)).isoformat(),
        "until": (now + timedelta(minutes=1)).isoformat(),
    }


async def test_a_till_finds_only_its_own_unclaimed_results_of_that_amount_and_phone(
    database_url: str, relay_factory: RelayFactory
) -> None:
    relay_server = await relay_factory(database_url=database_url)
    key, path = await relay_server.create_till("front")
    other_key, other_path = await relay_server.create_till("back")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=30) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_MINE", 10), headers=auth(key))
        for target, checkout_id, options in (
            (path, "ws_CO_LOST", {"amount": 10, "receipt": "TKL5550001"}),  # the one to find
            (path, "ws_CO_MINE", {"amount": 10}),  # registered: not an orphan
            (path, "ws_CO_OTHER_AMOUNT", {"amount": 20}),
            (path, "ws_CO_OTHER_PHONE", {"amount": 10, "phone": "254711000008"}),
            (path, "ws_CO_CANCELLED", {"result_code": 1032}),  # no amount or phone to match
            (other_path, "ws_CO_BACK", {"amount": 10}),  # another till's path
            (SEED_PATH, "ws_CO_SEED", {"amount": 10}),  # nobody's path
        ):
            answer = await client.post(target, content=stk_callback_bytes(checkout_id, **options))
            assert (answer.status_code, answer.json()) == (200, ACK)
        found = await client.post("/api/v1/orphans", json=search(), headers=auth(key))
        too_early = await client.post("/api/v1/orphans", json=search(minutes=-0.5), headers=auth(key))
        stranger = await client.post("/api/v1/orphans", json=search(), headers=auth(other_key))
    page = decode(found.content, OrphanPage)
    assert [(o.checkout_request_id, o.receipt, o.amount_kes, o.result_code) for o in page.items] == [
        ("ws_CO_LOST", "TKL5550001", 10, "0")
    ]
    assert page.items[0].phone != PHONE and page.items[0].phone.endswith("149")  # masked
    assert page.more is False
    assert decode(too_early.content, OrphanPage).items == []
    assert [o.checkout_request_id for o in decode(stranger.content, OrphanPage).items] == ["ws_CO_BACK"]


async def test_a_bad_search_is_refused_with_the_reason_and_a_stranger_with_401(
    relay_server: RunningRelay,
) -> None:
    key, _ = await relay_server.create_till("front")
    now = utcnow().isoformat()
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=30) as client:
        answers = [
            await client.post("/api/v1/orphans", json=body, headers=auth(key))
            for body in (
                search() | {"amount_kes": "10"},
                search() | {"amount_kes": 0},
                search() | {"phone": "12345"},
                search() | {"since": "yesterday"},
                search() | {"since": "2026-12-02T10:00:00"},  # no offset
                search() | {"since": now, "until": "2026-01-01T00:00:00+00:00"},
            )
        ]
        stranger = await client.post("/api/v1/orphans", json=search(), headers=auth("nope"))
    assert [answer.status_code for answer in answers] == [400] * 6
    assert all(answer.json()["detail"] for answer in answers)
    assert stranger.status_code == 401
