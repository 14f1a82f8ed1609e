"""Every scenario number's callback, really POSTed to a receiver on loopback (docs/daraja.md §4)."""

from __future__ import annotations

import re
import socket
from typing import Any

import httpx
import pytest

from daraja_core.callback import parse_stk_callback
from daraja_core.password import nairobi_timestamp, stk_password
from daraja_core.results import Outcome, classify
from tests.simulator.daraja_calls import (
    assert_daraja_error,
    assert_failure_callback,
    assert_paid_callback,
    daraja_client,
    push,
    stk,
    token,
)
from tests.support.simulator_fixtures import CallbackSink, RunningSimulator, SimulatorFactory


async def _push(sim: RunningSimulator, sink: CallbackSink, phone: str, **fields: Any) -> str:
    async with daraja_client(sim.base_url) as client:
        answer = await push(client, await token(client), phone=phone, callback_url=sink.url, **fields)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["CheckoutRequestID"])


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("phone", ["254708374149", "254722000123", "254110156957"])
async def test_the_sandbox_number_and_any_other_valid_number_pay_with_a_full_callback(
    shared_simulator: RunningSimulator, shared_callback_sink: CallbackSink, phone: str
) -> None:
    checkout_id = await _push(shared_simulator, shared_callback_sink, phone, Amount="25")
    [callback] = await shared_callback_sink.wait_for_checkout(checkout_id)
    receipt = assert_paid_callback(callback.json, checkout_id, 25, phone)
    assert callback.headers["content-type"] == "application/json;charset=UTF-8"
    assert callback.headers["businessshortcode"] == "174379"
    assert callback.path == "/callbacks/stk"
    assert stk(callback.json)["MerchantRequestID"]
    assert receipt[3:6] == "SIM"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("phone", "result_code", "result_desc"),
    [
        ("254711000001", 1032, "Request cancelled by user"),
        ("254711000002", 1, "The balance is insufficient for the transaction."),
        ("254711000003", 2001, "The initiator information is invalid."),
        ("254711000010", 1019, "Transaction has expired"),
        ("254711000011", 17, "Rule limited."),
    ],
)
async def test_failure_scenarios_send_a_numeric_result_code_and_no_callback_metadata(
    shared_simulator: RunningSimulator,
    shared_callback_sink: CallbackSink,
    phone: str,
    result_code: int,
    result_desc: str,
) -> None:
    checkout_id = await _push(shared_simulator, shared_callback_sink, phone)
    [callback] = await shared_callback_sink.wait_for_checkout(checkout_id)
    assert_failure_callback(callback.json, checkout_id, result_code)
    assert stk(callback.json)["ResultDesc"] == result_desc


async def _after_a_later_callback(sim: RunningSimulator, sink: CallbackSink) -> str:
    """Push a paying number and wait for its callback: a callback scheduled before it, with the same delay,
    would have arrived by then (the simulator sends them in the order they fall due)."""
    later = await _push(sim, sink, "254708374149")
    await sink.wait_for_checkout(later)
    return later


async def test_254711000004_is_unreachable_1037_and_comes_after_the_longer_delay(
    simulator: RunningSimulator, callback_sink: CallbackSink
) -> None:
    checkout_id = await _push(simulator, callback_sink, "254711000004")
    later = await _push(simulator, callback_sink, "254708374149")  # pushed after it, the usual delay
    first, callback = await callback_sink.wait_for(2)
    assert stk(first.json)["CheckoutRequestID"] == later  # the unreachable phone's answer comes last
    assert_failure_callback(callback.json, checkout_id, 1037)
    assert stk(callback.json)["ResultDesc"] == "No response from user."


async def test_254711000005_pays_but_no_callback_is_ever_sent(
    simulator: RunningSimulator, callback_sink: CallbackSink
) -> None:
    checkout_id = await _push(simulator, callback_sink, "254711000005")
    later = await _after_a_later_callback(simulator, callback_sink)
    assert callback_sink.for_checkout(checkout_id) == []
    assert [c["checkout_request_id"] for c in (await simulator.log())["callbacks"]] == [later]


async def test_254711000006_sends_the_same_paid_callback_twice(
    simulator: RunningSimulator, callback_sink: CallbackSink
) -> None:
    checkout_id = await _push(simulator, callback_sink, "254711000006")
    first, second = await callback_sink.wait_for(2)
    assert first.raw == second.raw
    assert_paid_callback(second.json, checkout_id, 10, "254711000006")
    await _after_a_later_callback(simulator, callback_sink)
    assert len(callback_sink.for_checkout(checkout_id)) == 2


async def test_254711000008_answers_late_but_the_prompt_was_accepted_and_the_paid_callback_comes(
    simulator: RunningSimulator, callback_sink: CallbackSink
) -> None:
    async with daraja_client(simulator.base_url) as client:
        access_token = await token(client)
        with pytest.raises(httpx.ReadTimeout):
            await push(
                client, access_token, phone="254711000008", callback_url=callback_sink.url, timeout_s=0.5
            )
    [callback] = await callback_sink.wait_for(1)
    checkout_id = stk(callback.json)["CheckoutRequestID"]
    assert_paid_callback(callback.json, checkout_id, 10, "254711000008")
    requests = (await simulator.log())["requests"]
    assert [entry["checkout_request_id"] for entry in requests if entry["phone"] == "2547*****008"] == [
        checkout_id
    ]


async def test_254711000008_answers_success_after_push_response_delay_when_the_client_waits(
    simulator_factory: SimulatorFactory, callback_sink: CallbackSink
) -> None:
    sim = await simulator_factory(push_response_delay_s=1.0)  # well past the 0.2 s callback delay
    async with daraja_client(sim.base_url) as client:
        access_token = await token(client)
        answer = await push(client, access_token, phone="254711000008", callback_url=callback_sink.url)
    assert answer.status_code == 200
    assert answer.json()["ResponseCode"] == "0"
    # Held back: the prompt's callback had already arrived when the answer did.
    assert callback_sink.for_checkout(answer.json()["CheckoutRequestID"])


async def test_254711000009_is_an_internal_server_error_and_nothing_rings_or_calls_back(
    simulator: RunningSimulator, callback_sink: CallbackSink
) -> None:
    async with daraja_client(simulator.base_url) as client:
        answer = await push(client, await token(client), phone="254711000009", callback_url=callback_sink.url)
    assert_daraja_error(answer, 500, "500.003.1001", "Internal Server Error")
    [logged] = (await simulator.log())["requests"][1:]
    await _after_a_later_callback(simulator, callback_sink)
    assert len(callback_sink.received) == 1  # the later sale's only
    assert (logged["phone"], logged["checkout_request_id"]) == ("2547*****009", None)


async def test_a_configured_shortcode_pays_and_its_callback_names_that_shortcode(
    simulator_factory: SimulatorFactory, callback_sink: CallbackSink
) -> None:
    sim = await simulator_factory(shortcodes={"600984": "shop-passkey"})
    timestamp = nairobi_timestamp()
    fields: dict[str, Any] = {
        "BusinessShortCode": 600984,
        "PartyB": 600984,
        "Timestamp": timestamp,
        "Password": stk_password("600984", "shop-passkey", timestamp),
    }
    checkout_id = await _push(sim, callback_sink, "254708374149", **fields)
    [callback] = await callback_sink.wait_for(1)
    assert_paid_callback(callback.json, checkout_id, 10, "254708374149")
    assert callback.headers["businessshortcode"] == "600984"
    async with daraja_client(sim.base_url) as client:
        assert (await push(client, await token(client))).status_code == 200, "174379 still works"


@pytest.mark.asyncio(loop_scope="module")
async def test_buy_goods_with_the_till_as_business_shortcode_is_accepted_then_fails_sfc_ic0003(
    shared_simulator: RunningSimulator, shared_callback_sink: CallbackSink
) -> None:
    checkout_id = await _push(
        shared_simulator,
        shared_callback_sink,
        "254708374149",
        TransactionType="CustomerBuyGoodsOnline",
        PartyB="174379",
    )
    [callback] = await shared_callback_sink.wait_for_checkout(checkout_id)
    assert_failure_callback(callback.json, checkout_id, "SFC_IC0003")
    assert stk(callback.json)["ResultDesc"] == "The operator does not exist."


@pytest.mark.asyncio(loop_scope="module")
async def test_buy_goods_to_a_till_number_other_than_the_shortcode_pays(
    shared_simulator: RunningSimulator, shared_callback_sink: CallbackSink
) -> None:
    checkout_id = await _push(
        shared_simulator,
        shared_callback_sink,
        "254708374149",
        TransactionType="CustomerBuyGoodsOnline",
        PartyB="5123456",
    )
    [callback] = await shared_callback_sink.wait_for_checkout(checkout_id)
    assert_paid_callback(callback.json, checkout_id, 10, "254708374149")


@pytest.mark.asyncio(loop_scope="module")
async def test_a_paybill_push_to_another_party_b_fails_2028(
    shared_simulator: RunningSimulator, shared_callback_sink: CallbackSink
) -> None:
    checkout_id = await _push(shared_simulator, shared_callback_sink, "254708374149", PartyB="600000")
    [callback] = await shared_callback_sink.wait_for_checkout(checkout_id)
    assert_failure_callback(callback.json, checkout_id, 2028)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_receipt_encodes_the_nairobi_date_of_the_payment(
    shared_simulator: RunningSimulator, shared_callback_sink: CallbackSink
) -> None:
    checkout_id = await _push(shared_simulator, shared_callback_sink, "254708374149")
    [callback] = await shared_callback_sink.wait_for_checkout(checkout_id)
    receipt = assert_paid_callback(callback.json, checkout_id, 10, "254708374149")
    date = str(stk(callback.json)["CallbackMetadata"]["Item"][3]["Value"])
    year, month, day = int(date[:4]), int(date[4:6]), int(date[6:8])
    assert receipt[0] == "LMNOPQRSTUVWXYZABCDEFGHIJK"[(year - 2017) % 26]  # S=2024, T=2025, U=2026 (§7)
    assert receipt[1] == "ABCDEFGHIJKL"[month - 1]
    assert receipt[2] == "123456789ABCDEFGHIJKLMNOPQRSTUV"[day - 1]
    assert re.fullmatch(r"[A-Z0-9]{10}", receipt)
    assert date[:8] == nairobi_timestamp()[:8]


@pytest.mark.asyncio(loop_scope="module")
async def test_the_callback_url_path_and_query_are_delivered_intact(
    shared_simulator: RunningSimulator, shared_callback_sink: CallbackSink
) -> None:
    checkout_id = await _push(
        shared_simulator,
        shared_callback_sink,
        "254708374149",
        CallBackURL=shared_callback_sink.url_for("orders/42?till=front"),
    )
    [callback] = await shared_callback_sink.wait_for_checkout(checkout_id)
    assert (callback.path, callback.query) == ("/callbacks/orders/42", "till=front")


async def test_a_callback_that_cannot_be_delivered_is_logged_once_and_not_retried(
    simulator: RunningSimulator,
) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]
    async with daraja_client(simulator.base_url) as client:
        answer = await push(client, await token(client), callback_url=f"http://127.0.0.1:{closed_port}/cb")
    assert answer.status_code == 200
    # A second push to the same dead URL, falling due later: once its failure is logged, a retry of the
    # first would have been too.
    async with daraja_client(simulator.base_url) as client:
        later = await push(client, await token(client), callback_url=f"http://127.0.0.1:{closed_port}/cb")
    later_id = later.json()["CheckoutRequestID"]
    entry, later_entry = (await simulator.log_with_callbacks(2))["callbacks"]
    assert later_entry["checkout_request_id"] == later_id
    assert entry["status"] is None
    assert "ConnectError" in entry["error"]
    assert entry["checkout_request_id"] == answer.json()["CheckoutRequestID"]


@pytest.mark.asyncio(loop_scope="module")
async def test_every_scenario_callback_parses_with_the_shared_parser_to_the_intended_outcome(
    shared_simulator: RunningSimulator, shared_callback_sink: CallbackSink
) -> None:
    expected = {
        "254708374149": Outcome.PAID,
        "254711000001": Outcome.CANCELLED,
        "254711000002": Outcome.INSUFFICIENT_FUNDS,
        "254711000003": Outcome.WRONG_PIN,
        "254711000004": Outcome.UNREACHABLE,
        "254711000006": Outcome.PAID,
        "254711000010": Outcome.EXPIRED,
        "254711000011": Outcome.LIMIT,
    }
    pushed = {
        phone: await _push(shared_simulator, shared_callback_sink, phone, Amount=7) for phone in expected
    }
    for phone, checkout_id in pushed.items():
        [callback, *_] = await shared_callback_sink.wait_for_checkout(checkout_id)
        parsed = parse_stk_callback(callback.raw)
        assert parsed.checkout_request_id == checkout_id
        assert classify(parsed.result_code).outcome is expected[phone]
        if expected[phone] is Outcome.PAID:
            assert (parsed.amount_kes, parsed.phone) == (7, phone)
            assert parsed.receipt is not None and parsed.transaction_date is not None
        else:
            assert (parsed.amount_kes, parsed.receipt, parsed.phone) == (None, None, None)
