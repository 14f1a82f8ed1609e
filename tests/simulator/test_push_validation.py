"""STK Push checks with Daraja's own error codes and messages (docs/daraja.md §2, §2b)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from daraja_core.password import SANDBOX_PASSKEY, nairobi_timestamp, stk_password
from tests.simulator.daraja_calls import (
    PUSH_PATH,
    assert_daraja_error,
    bearer,
    daraja_client,
    push,
    token,
)
from tests.support.simulator_fixtures import RunningSimulator

INVALID = "400.002.02"
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"BusinessShortCode": None}, "Bad Request - Invalid BusinessShortCode"),
        ({"BusinessShortCode": "17437A"}, "Bad Request - Invalid BusinessShortCode"),
        ({"Timestamp": "2026112112000"}, "Bad Request - Invalid Timestamp"),
        ({"Timestamp": "2026-11-21 12:00"}, "Bad Request - Invalid Timestamp"),
        ({"TransactionType": "CustomerPayBill"}, "Bad Request - Invalid TransactionType"),
        ({"Amount": "1.5"}, "Bad Request - Invalid Amount"),
        ({"Amount": 0}, "Bad Request - Invalid Amount"),
        ({"Amount": "-3"}, "Bad Request - Invalid Amount"),
        ({"Amount": "ten"}, "Bad Request - Invalid Amount"),
        ({"Amount": None}, "Bad Request - Invalid Amount"),
        ({"PartyA": "0708374149"}, "Bad Request - Invalid PhoneNumber"),
        ({"PhoneNumber": "+254708374149"}, "Bad Request - Invalid PhoneNumber"),
        ({"PhoneNumber": "25470837414"}, "Bad Request - Invalid PhoneNumber"),
        ({"PhoneNumber": "254208374149"}, "Bad Request - Invalid PhoneNumber"),
        ({"PartyB": None}, "Bad Request - Invalid PartyB"),
        ({"CallBackURL": None}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "https://relay.shop.co.ke/cb "}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "https://relay.shop.co.ke/my callback"}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "ftp://relay.shop.co.ke/cb"}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "relay.shop.co.ke/cb"}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "https://example.com/callback"}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "https://www.yourdomain.com/callback"}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "https://<your-ngrok>.ngrok.io/cb"}, "Bad Request - Invalid CallBackURL"),
        ({"AccountReference": None}, "Bad Request - Invalid AccountReference"),
        ({"TransactionDesc": None}, "Bad Request - Invalid Remarks"),
        ({"TransactionDesc": "  "}, "Bad Request - Invalid Remarks"),
    ],
)
async def test_a_malformed_push_is_refused_with_400_002_02_naming_the_field(
    shared_simulator: RunningSimulator, fields: dict[str, Any], message: str
) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        answer = await push(client, await token(client), **fields)
    assert_daraja_error(answer, 400, INVALID, message)


async def test_a_body_that_is_not_a_json_object_is_400_002_05(shared_simulator: RunningSimulator) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        headers = bearer(await token(client))
        not_json = await client.post(PUSH_PATH, content=b"{'Amount': 1,}", headers=headers)
        a_list = await client.post(PUSH_PATH, json=[1], headers=headers)
    for answer in (not_json, a_list):
        assert_daraja_error(answer, 400, "400.002.05", "Invalid Request Payload")


async def test_a_password_that_does_not_match_shortcode_passkey_and_timestamp_is_wrong_credentials(
    shared_simulator: RunningSimulator,
) -> None:
    old = "20200101000000"
    async with daraja_client(shared_simulator.base_url) as client:
        access_token = await token(client)
        wrong_passkey = await push(
            client, access_token, Password=stk_password("174379", "0" * 64, nairobi_timestamp())
        )
        other_timestamp = await push(
            client, access_token, Password=stk_password("174379", SANDBOX_PASSKEY, old)
        )
        missing = await push(client, access_token, Password=None)
    for answer in (wrong_passkey, other_timestamp, missing):
        assert_daraja_error(answer, 500, "500.001.1001", "Wrong credentials")


async def test_an_unknown_shortcode_is_merchant_does_not_exist(shared_simulator: RunningSimulator) -> None:
    timestamp = nairobi_timestamp()
    fields: dict[str, Any] = {
        "BusinessShortCode": "600000",
        "PartyB": "600000",
        "Timestamp": timestamp,
        "Password": stk_password("600000", SANDBOX_PASSKEY, timestamp),
    }
    async with daraja_client(shared_simulator.base_url) as client:
        answer = await push(client, await token(client), **fields)
    assert_daraja_error(answer, 500, "500.001.1001", "Merchant does not exist")


@pytest.mark.parametrize("amount", ["1", 1, "250", 1.0, "5.00"])
async def test_whole_amounts_as_strings_or_numbers_are_accepted(
    shared_simulator: RunningSimulator, amount: Any
) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        answer = await push(client, await token(client), Amount=amount)
    assert answer.status_code == 200, answer.text


async def test_an_accepted_push_answers_all_strings_with_a_checkout_id_built_from_eat_time_and_phone(
    shared_simulator: RunningSimulator,
) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        answer = await push(client, await token(client), phone="254110156957")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResponseCode",
        "ResponseDescription",
        "CustomerMessage",
    }
    assert all(isinstance(value, str) for value in body.values())
    assert body["ResponseCode"] == "0"
    assert (
        body["ResponseDescription"] == body["CustomerMessage"] == "Success. Request accepted for processing"
    )
    assert re.fullmatch(r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d{4}", body["MerchantRequestID"])
    match = re.fullmatch(r"ws_CO_(\d{14})(\d{3})(\d{9})", body["CheckoutRequestID"])
    assert match is not None
    stamp = match.group(1)
    assert f"{stamp[4:8]}{stamp[2:4]}{stamp[0:2]}" == nairobi_timestamp()[:8]
    assert match.group(3) == "110156957"
    assert answer.headers["X-Daraja-Simulator"] == "SIMULATOR - no real money"


async def test_duplicate_pushes_are_both_accepted_with_different_ids(
    shared_simulator: RunningSimulator,
) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        access_token = await token(client)
        first = await push(client, access_token, AccountReference="SAME")
        second = await push(client, access_token, AccountReference="SAME")
    assert first.status_code == second.status_code == 200
    assert first.json()["CheckoutRequestID"] != second.json()["CheckoutRequestID"]
    assert first.json()["MerchantRequestID"] != second.json()["MerchantRequestID"]


async def test_254711000007_is_refused_at_once_with_unable_to_lock_subscriber(
    shared_simulator: RunningSimulator,
) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        answer = await push(client, await token(client), phone="254711000007")
    assert_daraja_error(
        answer,
        500,
        "500.001.1001",
        "Unable to lock subscriber, a transaction is already in process for the current subscriber.",
    )


@pytest.mark.asyncio(loop_scope="function")
@pytest.mark.parametrize(
    "phone",
    ["254733123456", "254100123456", "254771123456"],
    ids=["airtel-0733", "airtel-0100", "telkom-0771"],
)
async def test_a_number_on_another_network_is_refused_as_daraja_refuses_an_invalid_phone_and_never_rings(
    simulator: RunningSimulator, phone: str
) -> None:
    # docs/daraja.md §2c: STK Push reaches Safaricom M-Pesa lines only.
    async with daraja_client(simulator.base_url) as client:
        access_token = await token(client)
        refused = await push(client, access_token, phone=phone)
        only_phone_number = await push(client, access_token, PhoneNumber=phone)
    assert_daraja_error(refused, 400, INVALID, "Bad Request - Invalid PhoneNumber")
    assert_daraja_error(only_phone_number, 400, INVALID, "Bad Request - Invalid PhoneNumber")
    log = await simulator.log()
    pushes = [entry for entry in log["requests"] if entry["path"] == PUSH_PATH]
    assert [entry["outcome"] for entry in pushes] == ["400 400.002.02 Bad Request - Invalid PhoneNumber"] * 2
    assert log["callbacks"] == []
