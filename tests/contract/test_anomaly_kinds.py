"""Every anomaly, feed kind and status the relay writes is a member of the contract's enums: each way a
callback can flag a payment is driven through the real relay, then the relay's own tables are read."""

from __future__ import annotations

import json

import httpx
import sqlalchemy as sa

from daraja_core.contract import AnomalyKind, FeedKind, PaymentStatus
from relay.c2b import CONFIRMATION
from relay.db import Database
from relay.simulate import stk_callback_body, stk_callback_bytes
from tests.relay.c2b_support import make_shop
from tests.support.relay_fixtures import RunningRelay

PHONE = "254708374149"


def without_phone(checkout_request_id: str) -> bytes:
    body = stk_callback_body(checkout_request_id, amount=10, phone=PHONE)
    items = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = [i for i in items if i["Name"] != "PhoneNumber"]
    return json.dumps(body).encode()


async def test_every_value_the_relay_writes_is_a_contract_enum_member(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("front")
    callbacks = {
        "paid": stk_callback_bytes("ws_CO_PAID", amount=10, phone=PHONE),
        "failed": stk_callback_bytes("ws_CO_FAILED", result_code=1032),
        "amount": stk_callback_bytes("ws_CO_AMOUNT", amount=9, phone=PHONE),
        "phone": stk_callback_bytes("ws_CO_PHONE", amount=10, phone="254711111111"),
        "nophone": without_phone("ws_CO_NOPHONE"),
        "contradicted": stk_callback_bytes("ws_CO_CONTRA", amount=10, phone=PHONE),
        "unknown": stk_callback_bytes("ws_CO_UNKNOWN", result_code="SFC_NEW"),
    }
    async with httpx.AsyncClient(base_url=relay_server.base_url) as http:
        for order, body in callbacks.items():
            checkout = json.loads(body)["Body"]["stkCallback"]["CheckoutRequestID"]
            registered = await http.post(
                "/api/v1/payments",
                json={"order_id": order, "checkout_request_id": checkout, "amount_kes": 10, "phone": PHONE},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert registered.status_code == 200
            assert (await http.post(path, content=body)).status_code == 200
        later = stk_callback_bytes("ws_CO_CONTRA", result_code=1032)
        assert (await http.post(path, content=later)).status_code == 200
        # A C2B payment to the till's shop (docs/daraja.md §6): the feed's c2b kind.
        shop = await make_shop(relay_server, "duka", "5123456", ["counter"])
        c2b = {
            "TransID": "UL2SIM0001",
            "TransAmount": "10.00",
            "BusinessShortCode": "5123456",
            "MSISDN": PHONE,
        }
        assert (await http.post(shop.ref.url(CONFIRMATION), json=c2b)).status_code == 200

    db = Database(relay_server.database_url)
    try:
        anomalies, statuses, kinds = await db.read(
            lambda c: (
                set(
                    c.execute(
                        sa.text("SELECT DISTINCT anomaly FROM payment WHERE anomaly IS NOT NULL")
                    ).scalars()
                ),
                set(c.execute(sa.text("SELECT DISTINCT status FROM payment")).scalars()),
                set(c.execute(sa.text("SELECT DISTINCT kind FROM feed_entry")).scalars()),
            )
        )
    finally:
        await db.dispose()
    # Each anomaly kind is reachable, and nothing outside the enum is ever written.
    assert anomalies == {kind.value for kind in AnomalyKind}
    assert statuses <= {status.value for status in PaymentStatus}
    assert kinds == {kind.value for kind in FeedKind}
