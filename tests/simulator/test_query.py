"""STK Query: still processing, then the final code; spike arrest; unknown ids (docs/daraja.md §3)."""

from __future__ import annotations

import asyncio

import pytest

from daraja_core.password import nairobi_timestamp, stk_password
from tests.simulator.daraja_calls import (
    QUERY_PATH,
    FakeClock,
    assert_daraja_error,
    bearer,
    daraja_client,
    push,
    query,
    token,
)
from tests.support.simulator_fixtures import RunningSimulator, SimulatorFactory

QUERY_FIELDS = {
    "ResponseCode",
    "ResponseDescription",
    "MerchantRequestID",
    "CheckoutRequestID",
    "ResultCode",
    "ResultDesc",
}


@pytest.mark.parametrize(
    ("phone", "result_code", "result_desc"),
    [
        ("254708374149", "0", "The service request is processed successfully."),
        ("254711000001", "1032", "Request Cancelled by user."),
        ("254711000002", "1", "The balance is insufficient for the transaction."),
        ("254711000003", "2001", "The initiator information is invalid."),
        ("254711000004", "1037", "DS timeout user cannot be reached"),
        ("254711000005", "0", "The service request is processed successfully."),
        ("254711000010", "1019", "Transaction has expired"),
        ("254711000011", "17", "Rule limited."),
    ],
)
@pytest.mark.asyncio(loop_scope="module")
async def test_query_says_4999_until_the_customer_answers_then_the_final_code_all_as_strings(
    clocked_simulator: RunningSimulator,
    shared_clock: FakeClock,
    phone: str,
    result_code: str,
    result_desc: str,
) -> None:
    sim, clock = clocked_simulator, shared_clock
    async with daraja_client(sim.base_url) as client:
        access_token = await token(client)
        accepted = (await push(client, access_token, phone=phone)).json()
        checkout_id = accepted["CheckoutRequestID"]
        pending = await query(client, access_token, checkout_id)
        clock.advance(sim.settings.unreachable_delay_s)
        final = await query(client, access_token, checkout_id)
    for answer in (pending, final):
        assert answer.status_code == 200
        assert set(answer.json()) == QUERY_FIELDS
        assert all(isinstance(value, str) for value in answer.json().values())
        assert answer.json()["ResponseCode"] == "0"
        assert answer.json()["CheckoutRequestID"] == checkout_id
        assert answer.json()["MerchantRequestID"] == accepted["MerchantRequestID"]
    assert (pending.json()["ResultCode"], pending.json()["ResultDesc"]) == (
        "4999",
        "The transaction is still under processing",
    )
    assert (final.json()["ResultCode"], final.json()["ResultDesc"]) == (result_code, result_desc)


@pytest.mark.asyncio(loop_scope="module")
async def test_1037_stays_pending_past_the_ordinary_callback_delay(
    clocked_simulator: RunningSimulator, shared_clock: FakeClock
) -> None:
    sim, clock = clocked_simulator, shared_clock
    async with daraja_client(sim.base_url) as client:
        access_token = await token(client)
        checkout_id = (await push(client, access_token, phone="254711000004")).json()["CheckoutRequestID"]
        clock.advance(sim.settings.callback_delay_s)
        assert (await query(client, access_token, checkout_id)).json()["ResultCode"] == "4999"
        clock.advance(sim.settings.unreachable_delay_s - sim.settings.callback_delay_s)
        assert (await query(client, access_token, checkout_id)).json()["ResultCode"] == "1037"


async def test_query_turns_final_in_real_time_after_the_callback_delay(simulator: RunningSimulator) -> None:
    async with daraja_client(simulator.base_url) as client:
        access_token = await token(client)
        checkout_id = (await push(client, access_token, phone="254711000002")).json()["CheckoutRequestID"]
        codes = [(await query(client, access_token, checkout_id)).json()["ResultCode"]]
        async with asyncio.timeout(10):
            while codes[-1] == "4999":  # asked no faster than the spike-arrest interval allows
                await asyncio.sleep(simulator.settings.min_query_interval_s * 1.5)
                codes.append((await query(client, access_token, checkout_id)).json()["ResultCode"])
    assert codes[0] == "4999" and codes[-1] == "1"


async def test_querying_the_same_id_faster_than_the_minimum_interval_is_a_spike_arrest(
    simulator_factory: SimulatorFactory,
) -> None:
    clock = FakeClock()
    sim = await simulator_factory(clock=clock, min_query_interval_s=2.0)
    async with daraja_client(sim.base_url) as client:
        access_token = await token(client)
        first_id = (await push(client, access_token)).json()["CheckoutRequestID"]
        other_id = (await push(client, access_token)).json()["CheckoutRequestID"]
        assert (await query(client, access_token, first_id)).status_code == 200
        clock.advance(1.9)
        too_soon = await query(client, access_token, first_id)
        assert (await query(client, access_token, other_id)).status_code == 200
        clock.advance(0.1)
        in_time = await query(client, access_token, first_id)
    assert_daraja_error(too_soon, 500, "500.003.02", "Error Occurred: Spike Arrest Violation")
    assert in_time.status_code == 200


async def test_an_unknown_checkout_request_id_does_not_exist_and_the_request_id_is_the_checkout_id(
    simulator: RunningSimulator,
) -> None:
    unknown = "ws_CO_21112026235959123708374149"
    async with daraja_client(simulator.base_url) as client:
        answer = await query(client, await token(client), unknown)
    assert_daraja_error(answer, 500, "500.001.1001", "The transaction does not Exist")
    assert answer.json()["requestId"] == unknown


async def test_a_push_refused_with_500_003_1001_cannot_be_found_by_query(simulator: RunningSimulator) -> None:
    async with daraja_client(simulator.base_url) as client:
        access_token = await token(client)
        assert (await push(client, access_token, phone="254711000009")).status_code == 500
        # The id Daraja would have given it: now, EAT, any fraction, the phone's last 9 digits.
        guesses = [f"ws_CO_{_eat_now()}{n:03d}711000009" for n in range(0, 1000, 97)]
        answers = [await query(client, access_token, guess) for guess in guesses]
    for answer in answers:
        assert_daraja_error(answer, 500, "500.001.1001", "The transaction does not Exist")


def _eat_now() -> str:
    stamp = nairobi_timestamp()
    return stamp[6:8] + stamp[4:6] + stamp[0:4] + stamp[8:14]


async def test_query_checks_the_token_and_the_password_like_push(simulator: RunningSimulator) -> None:
    timestamp = nairobi_timestamp()
    wrong = {
        "BusinessShortCode": "174379",
        "Timestamp": timestamp,
        "Password": stk_password("174379", "0" * 64, timestamp),
        "CheckoutRequestID": "ws_CO_x",
    }
    async with daraja_client(simulator.base_url) as client:
        access_token = await token(client)
        no_token = await client.post(QUERY_PATH, json=wrong)
        wrong_password = await client.post(QUERY_PATH, json=wrong, headers=bearer(access_token))
        bad_timestamp = await client.post(
            QUERY_PATH, json={**wrong, "Timestamp": "2026"}, headers=bearer(access_token)
        )
    assert_daraja_error(no_token, 404, "404.001.03", "Invalid Access Token")
    assert_daraja_error(wrong_password, 500, "500.001.1001", "Wrong credentials")
    assert_daraja_error(bad_timestamp, 400, "400.002.02", "Bad Request - Invalid Timestamp")
