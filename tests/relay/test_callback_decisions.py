"""What the relay decides for callbacks that are odd but not unstorable: ambiguous bodies, non-ASCII
numbers, result codes it does not know. Real HTTP to the relay under uvicorn, a real SQLite file."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from relay.db import Database
from relay.models import raw_table
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import ACK, auth, registration
from tests.support.relay_fixtures import RunningRelay


async def raw_statuses(relay: RunningRelay) -> list[tuple[str, str | None]]:
    db = Database(relay.database_url)
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


async def post_and_read_status(relay: RunningRelay, body: bytes, amount_kes: int = 10) -> dict[str, Any]:
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=30) as client:
        await client.post(
            "/api/v1/payments", json=registration("o", "ws_CO_1", amount_kes), headers=auth(key)
        )
        answer = await client.post(path, content=body)
        assert (answer.status_code, answer.json()) == (200, ACK)
        status: dict[str, Any] = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    return status


async def test_a_callback_with_a_repeated_result_code_is_kept_as_malformed_and_settles_nothing(
    relay_server: RunningRelay,
) -> None:
    body = (
        b'{"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_1", '
        b'"ResultCode": 1032, "ResultDesc": "Request cancelled by user", "ResultCode": 0, '
        b'"CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 10}, '
        b'{"Name": "MpesaReceiptNumber", "Value": "TKL5550001"}, '
        b'{"Name": "PhoneNumber", "Value": 254708374149}]}}}}'
    )
    status = await post_and_read_status(relay_server, body)
    assert (status["status"], status["transactionId"], status["result_code"]) == ("pending", "", None)
    ((raw_status, error),) = await raw_statuses(relay_server)
    assert raw_status == "malformed"
    assert error is not None and "repeats the key 'ResultCode'" in error


async def test_a_phone_in_non_ascii_digits_is_refused_at_registration_and_missing_in_a_callback(
    relay_server: RunningRelay,
) -> None:
    key, path = await relay_server.create_till("front")
    body = stk_callback_bytes("ws_CO_1", amount=10).replace(b"254708374149", '"07²³¹²³¹²³"'.encode())
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=30) as client:
        refused = await client.post(
            "/api/v1/payments", json=registration("x", "ws_CO_X", 10, phone="07²³¹²³¹²³"), headers=auth(key)
        )
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_1", 10), headers=auth(key))
        answer = await client.post(path, content=body)
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert refused.status_code == 400
    assert (answer.status_code, answer.json()) == (200, ACK)
    assert (status["status"], status["anomaly"]) == ("pending", "phone_missing")


async def test_an_unknown_result_code_leaves_the_payment_pending_and_flagged_never_failed(
    relay_server: RunningRelay,
) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url, timeout=30) as client:
        for order, code in (("a", '"00"'), ("b", "-1"), ("c", '"0.0"')):
            checkout_id = f"ws_CO_{order}"
            await client.post(
                "/api/v1/payments", json=registration(order, checkout_id, 10), headers=auth(key)
            )
            body = stk_callback_bytes(checkout_id, result_code=1).replace(
                b'"ResultCode": 1', b'"ResultCode": ' + code.encode()
            )
            assert (await client.post(path, content=body)).status_code == 200
        statuses = [
            (await client.get(f"/api/v1/payments/{order}/status", headers=auth(key))).json()
            for order in "abc"
        ]
        feed = (await client.get("/api/v1/results", headers=auth(key))).json()
    assert [(s["status"], s["anomaly"], s["result_code"], s["settled_at"]) for s in statuses] == [
        ("pending", "unknown_result", "00", None),
        ("pending", "unknown_result", "-1", None),
        ("pending", "unknown_result", "0.0", None),
    ]
    assert "check the customer's SMS" in statuses[0]["reason"]
    assert [(item["order_id"], item["kind"]) for item in feed["items"]] == [
        ("a", "anomaly"),
        ("b", "anomaly"),
        ("c", "anomaly"),
    ]
