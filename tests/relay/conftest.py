"""Shared helpers for the relay tests: the recorded Daraja payloads and a till client."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "daraja"

ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}
# The seed's curl payload, verbatim from the issue (tests/fixtures/daraja/callback_seed_curl.json).
SEED_CHECKOUT_ID = "ws_CO_191220191020363925"
SEED_PHONE = "254708374149"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def registration(
    order_id: str, checkout_request_id: str, amount_kes: int = 1, phone: str = SEED_PHONE
) -> dict:
    return {
        "order_id": order_id,
        "checkout_request_id": checkout_request_id,
        "amount_kes": amount_kes,
        "phone": phone,
    }


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


__all__ = [
    "ACK",
    "FIXTURES",
    "SEED_CHECKOUT_ID",
    "SEED_PHONE",
    "auth",
    "fixture_bytes",
    "httpx",
    "registration",
]
