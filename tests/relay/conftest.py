"""Shared helpers for the relay tests: the recorded Daraja payloads, an in-process app with a
test client, and till helpers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from relay.app import create_app
from relay.db import Database
from relay.migrate import upgrade
from relay.models import utcnow
from relay.settings import RelaySettings
from relay.tills import create_till_key, revoke_till_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "daraja"

ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}
# The seed's curl payload, verbatim (tests/fixtures/daraja/callback_seed_curl.json).
SEED_CURL = (
    '{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":'
    '"ws_CO_191220191020363925","ResultCode":0,"ResultDesc":"The service request is processed successfully.",'
    '"CallbackMetadata":{"Item":[{"Name":"Amount","Value":1.00},{"Name":"MpesaReceiptNumber","Value":'
    '"NLJ7RT61SV"},{"Name":"Balance"},{"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber",'
    '"Value":254708374149}]}}}}'
)
SEED_CHECKOUT_ID = "ws_CO_191220191020363925"
SEED_PATH = "/api/v1/payments/mpesa/callback"
PHONE = "254708374149"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def registration(
    order_id: str, checkout_request_id: str, amount_kes: int = 1, phone: str = PHONE
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "checkout_request_id": checkout_request_id,
        "amount_kes": amount_kes,
        "phone": phone,
    }


@dataclass
class Clock:
    """A settable clock for the app (alerts, settle times)."""

    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class InProcessRelay:
    client: AsyncTestClient
    settings: RelaySettings
    clock: Clock

    async def create_till(self, name: str) -> tuple[str, str]:
        db = Database(self.settings.database_url)
        try:
            till, key = await db.write(lambda c: create_till_key(c, name))
        finally:
            await db.dispose()
        return key, till.callback_path

    async def revoke(self, name: str) -> None:
        db = Database(self.settings.database_url)
        try:
            await db.write(lambda c: revoke_till_key(c, name))
        finally:
            await db.dispose()

    async def register(
        self, key: str, order_id: str, checkout_id: str, amount_kes: int = 1, phone: str = PHONE
    ) -> Any:
        answer = await self.client.post(
            "/api/v1/payments", json=registration(order_id, checkout_id, amount_kes, phone), headers=auth(key)
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def status(self, key: str, order_id: str) -> dict[str, Any]:
        answer = await self.client.get(f"/api/v1/payments/{order_id}/status", headers=auth(key))
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def callback(self, path: str, body: bytes | str) -> None:
        answer = await self.client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200
        assert answer.json() == ACK


AppFactory = Callable[..., Any]


@pytest.fixture
async def app_factory(tmp_path: Path) -> AsyncIterator[AppFactory]:
    """`await app_factory(**settings)` → an InProcessRelay served through Litestar's AsyncTestClient."""
    opened: list[AsyncTestClient] = []

    async def make(clock: Clock | None = None, **overrides: Any) -> InProcessRelay:
        # Admin endpoints open, as on a private network, for the tests reading alerts and metrics; their
        # closed default is tested in test_access.py.
        settings = RelaySettings(
            **{
                "database_url": f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}",
                "admin_open": True,
                **overrides,
            }
        )
        await upgrade(settings.database_url)
        clock = clock or Clock()
        client = AsyncTestClient(create_app(settings, clock=clock))
        await client.__aenter__()
        opened.append(client)
        return InProcessRelay(client, settings, clock)

    yield make
    for client in opened:
        await client.__aexit__(None, None, None)


@pytest.fixture
async def relay(app_factory: AppFactory) -> InProcessRelay:
    result: InProcessRelay = await app_factory()
    return result


# The local PostgreSQL server; each test using `pg_url` creates its own database and drops it afterwards.
SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    import asyncpg

    try:
        admin = await asyncpg.connect(SERVER_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 as postgres ({error})")
    name = f"relay_test_{secrets.token_hex(6)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
