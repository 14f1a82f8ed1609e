"""Raw Daraja requests for the simulator tests: plain httpx, no till client."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from daraja_core.password import (
    SANDBOX_PASSKEY,
    SANDBOX_SHORTCODE,
    nairobi_timestamp,
    parse_nairobi_timestamp,
    stk_password,
)
from daraja_core.simulator import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET

PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"
TOKEN_PATH = "/oauth/v1/generate?grant_type=client_credentials"
RECEIPT = re.compile(r"[A-Z0-9]{10}")


# Measured here: a kept-alive connection to an in-loop uvicorn answers its second request ~44 ms late;
# a fresh connection takes ~5 ms.
_ONE_SHOT = httpx.Limits(max_keepalive_connections=0)


class FakeClock:
    """The simulator's injectable clock: aware UTC, moves only when told."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def daraja_client(base_url: str) -> httpx.AsyncClient:
    """Plain HTTP on loopback: no TLS context to build (~0.1 s), one connection per request."""
    transport = httpx.AsyncHTTPTransport(verify=False, limits=_ONE_SHOT)
    return httpx.AsyncClient(base_url=base_url, transport=transport, trust_env=False)


def basic(key: str = SIM_CONSUMER_KEY, secret: str = SIM_CONSUMER_SECRET) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


async def token(client: httpx.AsyncClient) -> str:
    answer = await client.get(TOKEN_PATH, headers=basic())
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def credentials(shortcode: str = SANDBOX_SHORTCODE, passkey: str = SANDBOX_PASSKEY) -> dict[str, str]:
    timestamp = nairobi_timestamp()
    return {
        "BusinessShortCode": shortcode,
        "Password": stk_password(shortcode, passkey, timestamp),
        "Timestamp": timestamp,
    }


def push_body(
    phone: str = "254708374149", callback_url: str = "http://127.0.0.1:9/cb", **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        **credentials(),
        "TransactionType": "CustomerPayBillOnline",
        "Amount": "10",
        "PartyA": phone,
        "PartyB": SANDBOX_SHORTCODE,
        "PhoneNumber": phone,
        "CallBackURL": callback_url,
        "AccountReference": "SALE-0001",
        "TransactionDesc": "Groceries",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


async def push(
    client: httpx.AsyncClient, access_token: str, *, timeout_s: float = 5.0, **fields: Any
) -> httpx.Response:
    return await client.post(
        PUSH_PATH, json=push_body(**fields), headers=bearer(access_token), timeout=timeout_s
    )


async def query(client: httpx.AsyncClient, access_token: str, checkout_request_id: str) -> httpx.Response:
    body = {**credentials(), "CheckoutRequestID": checkout_request_id}
    return await client.post(QUERY_PATH, json=body, headers=bearer(access_token))


def assert_daraja_error(answer: httpx.Response, http_status: int, code: str, message: str) -> None:
    assert answer.status_code == http_status, answer.text
    body = answer.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert all(isinstance(value, str) for value in body.values())
    assert body["errorCode"] == code
    assert body["errorMessage"] == message
    assert body["requestId"]


def stk(callback: dict[str, Any]) -> dict[str, Any]:
    return dict(callback["Body"]["stkCallback"])


def assert_failure_callback(
    callback: dict[str, Any], checkout_request_id: str, result_code: int | str
) -> None:
    body = stk(callback)
    assert body["CheckoutRequestID"] == checkout_request_id
    assert body["ResultCode"] == result_code and type(body["ResultCode"]) is type(result_code)
    assert isinstance(body["ResultDesc"], str) and body["ResultDesc"]
    assert "CallbackMetadata" not in body


def assert_paid_callback(
    callback: dict[str, Any], checkout_request_id: str, amount_kes: int, phone: str
) -> str:
    """Checks the live shape item by item (docs/daraja.md §4); returns the receipt."""
    body = stk(callback)
    assert set(body) == {
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResultCode",
        "ResultDesc",
        "CallbackMetadata",
    }
    assert body["CheckoutRequestID"] == checkout_request_id
    assert body["ResultCode"] == 0 and type(body["ResultCode"]) is int
    assert body["ResultDesc"] == "The service request is processed successfully."
    items = body["CallbackMetadata"]["Item"]
    assert [item["Name"] for item in items] == [
        "Amount",
        "MpesaReceiptNumber",
        "Balance",
        "TransactionDate",
        "PhoneNumber",
    ]
    amount, receipt, balance, date, phone_item = items
    assert amount["Value"] == amount_kes and type(amount["Value"]) is int
    assert isinstance(receipt["Value"], str) and RECEIPT.fullmatch(receipt["Value"])
    assert balance == {"Name": "Balance"}
    assert type(date["Value"]) is int and len(str(date["Value"])) == 14
    paid_at = parse_nairobi_timestamp(date["Value"])
    assert abs((datetime.now(paid_at.tzinfo) - paid_at).total_seconds()) < 60
    assert phone_item["Value"] == int(phone) and type(phone_item["Value"]) is int
    return str(receipt["Value"])
