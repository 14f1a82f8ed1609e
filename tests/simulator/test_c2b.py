"""C2B in the simulator over real HTTP: URL registration, the customer paying a till or paybill, validation
and confirmation really POSTed to a merchant on loopback, the duplicate and missing confirmation
scenarios, and Pull Transactions (docs/daraja.md §6).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

import httpx
import pytest

from daraja_core.password import parse_nairobi_timestamp
from daraja_core.simulator import DEMO_NOTICE
from daraja_core.simulator.cli import main, serve_parser, settings_from_args
from tests.simulator.c2b_receiver import C2BReceiver, register, wait_for_c2b_payment
from tests.simulator.daraja_calls import FakeClock, assert_daraja_error, bearer, daraja_client, token
from tests.support.simulator_fixtures import RunningSimulator, SimulatorFactory

C2B_FIELDS = [
    "TransactionType",
    "TransID",
    "TransTime",
    "TransAmount",
    "BusinessShortCode",
    "BillRefNumber",
    "InvoiceNumber",
    "OrgAccountBalance",
    "ThirdPartyTransID",
    "MSISDN",
    "FirstName",
    "MiddleName",
    "LastName",
]
RECEIPT = re.compile(r"[A-Z0-9]{3}SIM[A-Z0-9]{4}")


async def customer_pay(sim: RunningSimulator, **body: Any) -> httpx.Response:
    async with daraja_client(sim.base_url) as client:
        return await client.post("/simulator/c2b/pay", json=body, timeout=15)


def assert_c2b_body(body: dict[str, Any]) -> None:
    """Daraja's key order and every value a string (§6)."""
    assert list(body) == C2B_FIELDS
    assert all(type(value) is str for value in body.values()), body
    assert RECEIPT.fullmatch(body["TransID"])
    parse_nairobi_timestamp(body["TransTime"])


async def test_register_url_answers_like_daraja_with_the_misspelt_originator_id_on_v1_and_v2(
    simulator: RunningSimulator, receiver: C2BReceiver
) -> None:
    for version in ("v1", "v2"):
        answer = await register(simulator, receiver, version=version)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"OriginatorCoversationID", "ResponseCode", "ResponseDescription"}
        assert (body["ResponseCode"], body["ResponseDescription"]) == ("0", "Success")
        assert re.fullmatch(
            r"[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\d{7}", body["OriginatorCoversationID"]
        )


async def test_with_the_production_switch_a_second_registration_is_urls_already_registered(
    simulator_factory: SimulatorFactory, receiver: C2BReceiver
) -> None:
    production = await simulator_factory(c2b_register_once=True)
    assert (await register(production, receiver)).status_code == 200
    again = await register(production, receiver, version="v1")
    assert_daraja_error(again, 500, "500.003.1001", "Urls are already registered")
    assert (await register(production, receiver, shortcode="600984")).status_code == 200
    sandbox = await simulator_factory()
    assert (await register(sandbox, receiver)).status_code == 200
    assert (await register(sandbox, receiver)).status_code == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ResponseType": "completed"}, "Bad Request - Invalid ResponseType"),
        ({"ShortCode": "17"}, "Bad Request - Invalid ShortCode"),
        ({"ConfirmationURL": "https://example.com/c2b"}, "Bad Request - Invalid ConfirmationURL"),
        ({"ValidationURL": None}, "Bad Request - Invalid ValidationURL"),
    ],
)
async def test_a_malformed_registration_is_refused_naming_the_field(
    simulator: RunningSimulator, fields: dict[str, Any], message: str
) -> None:
    body = {
        "ShortCode": "174379",
        "ResponseType": "Completed",
        "ConfirmationURL": "http://127.0.0.1:9/c2b/confirmation",
        "ValidationURL": "http://127.0.0.1:9/c2b/validation",
        **fields,
    }
    async with daraja_client(simulator.base_url) as client:
        answer = await client.post(
            "/mpesa/c2b/v2/registerurl", json=body, headers=bearer(await token(client))
        )
        no_token = await client.post("/mpesa/c2b/v2/registerurl", json=body)
    assert_daraja_error(answer, 400, "400.002.02", message)
    assert_daraja_error(no_token, 404, "404.001.03", "Invalid Access Token")


async def test_a_customer_paying_a_till_sends_one_v2_confirmation_with_daraja_fields_all_strings(
    simulator: RunningSimulator, receiver: C2BReceiver
) -> None:
    await register(simulator, receiver)
    answer = await customer_pay(simulator, till="174379", amount=350, phone="0712345678")
    assert answer.status_code == 200, answer.text
    paid = answer.json()
    assert (paid["status"], paid["amount_kes"], paid["phone"], paid["notice"]) == (
        "completed",
        350,
        "2547*****678",
        DEMO_NOTICE,
    )
    [confirmation] = receiver.posts("confirmation")
    assert receiver.posts("validation") == [], "external validation is off by default, as on Daraja"
    body = confirmation.json
    assert_c2b_body(body)
    assert body["TransID"] == paid["TransID"]
    assert body["TransactionType"] == "Buy Goods"
    assert body["TransAmount"] == "350.00"
    assert body["BusinessShortCode"] == "174379"
    assert (body["BillRefNumber"], body["InvoiceNumber"], body["ThirdPartyTransID"]) == ("", "", "")
    assert body["OrgAccountBalance"] == "350.00"
    assert body["MSISDN"] == "2547 ***** 678"
    assert (body["FirstName"], body["MiddleName"], body["LastName"]) == ("DEMO", "", "")
    assert confirmation.headers["x-daraja-simulator"] == "SIMULATOR - no real money"
    second = (await customer_pay(simulator, till="174379", amount=50, phone="0712345678")).json()
    assert receiver.posts("confirmation", second["TransID"])[0].json["OrgAccountBalance"] == "400.00"


async def test_a_v1_registration_gets_the_msisdn_as_a_sha256_digest(
    simulator: RunningSimulator, receiver: C2BReceiver
) -> None:
    await register(simulator, receiver, version="v1")
    paid = (
        await customer_pay(simulator, paybill="174379", amount=20, phone="254708374149", ref="ACC-7")
    ).json()
    [confirmation] = receiver.posts("confirmation", paid["TransID"])
    assert confirmation.json["MSISDN"] == hashlib.sha256(b"254708374149").hexdigest()
    assert (confirmation.json["TransactionType"], confirmation.json["BillRefNumber"]) == ("Pay Bill", "ACC-7")


async def test_with_validation_on_the_validation_post_comes_first_and_its_third_party_id_is_echoed(
    simulator_factory: SimulatorFactory, receiver: C2BReceiver
) -> None:
    sim = await simulator_factory(c2b_validation=True)
    await register(sim, receiver)
    receiver.validation_answer = {"ResultCode": "0", "ResultDesc": "Accepted", "ThirdPartyTransID": "SALE-17"}
    paid = (await customer_pay(sim, till="174379", amount=99, phone="0712345678", ref="T1")).json()
    assert [post.path for post in receiver.received] == ["/c2b/validation", "/c2b/confirmation"]
    validation, confirmation = (post.json for post in receiver.received)
    assert_c2b_body(validation)
    assert validation["TransID"] == confirmation["TransID"] == paid["TransID"]
    assert validation["OrgAccountBalance"] == ""
    assert (validation["ThirdPartyTransID"], confirmation["ThirdPartyTransID"]) == ("", "SALE-17")
    assert confirmation["OrgAccountBalance"] == "99.00"


@pytest.mark.parametrize("code", ["C2B00011", "C2B00012", "C2B00016"])
async def test_a_validation_rejection_means_no_confirmation_and_nothing_for_pull(
    simulator_factory: SimulatorFactory, receiver: C2BReceiver, code: str
) -> None:
    sim = await simulator_factory(c2b_validation=True)
    await register(sim, receiver)
    receiver.validation_answer = {"ResultCode": code, "ResultDesc": "Rejected"}
    paid = (await customer_pay(sim, till="174379", amount=10, phone="0712345678")).json()
    assert (paid["status"], paid["result_code"]) == ("rejected", code)
    assert len(receiver.posts("validation")) == 1
    assert receiver.posts("confirmation") == []
    [logged] = [entry for entry in (await sim.log())["c2b"] if entry["kind"] == "payment"]
    assert logged["status"] == "rejected"
    assert await pull_rows(sim) == []


@pytest.mark.parametrize(
    ("response_type", "status", "confirmations"),
    [("Cancelled", "cancelled", 0), ("Completed", "completed", 1)],
)
async def test_an_unanswered_validation_lets_the_registered_response_type_decide(
    simulator_factory: SimulatorFactory,
    receiver: C2BReceiver,
    response_type: str,
    status: str,
    confirmations: int,
) -> None:
    sim = await simulator_factory(c2b_validation=True, c2b_validation_timeout_s=0.2)
    await register(sim, receiver, response_type=response_type)
    receiver.validation_released.clear()
    paid = (await customer_pay(sim, till="174379", amount=10, phone="0712345678")).json()
    assert paid["status"] == status
    assert len(receiver.posts("confirmation")) == confirmations
    [validation] = [entry for entry in (await sim.log())["c2b"] if entry["kind"] == "validation"]
    assert validation["error"].startswith("ReadTimeout")


async def test_daraja_simulate_answers_at_once_then_the_confirmation_follows(
    simulator: RunningSimulator, receiver: C2BReceiver
) -> None:
    await register(simulator, receiver, shortcode="600984")
    async with daraja_client(simulator.base_url) as client:
        answer = await client.post(
            "/mpesa/c2b/v2/simulate",
            json={
                "ShortCode": 600984,
                "CommandID": "CustomerPayBillOnline",
                "Amount": 1,
                "Msisdn": 254708374149,
                "BillRefNumber": "INV-3",
            },
            headers=bearer(await token(client)),
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["ResponseCode"] == "0"
    assert answer.json()["ResponseDescription"] == "Accept the service request successfully."
    [confirmation] = await receiver.wait_for("confirmation")
    assert_c2b_body(confirmation.json)
    assert (confirmation.json["BusinessShortCode"], confirmation.json["BillRefNumber"]) == ("600984", "INV-3")
    assert (confirmation.json["TransAmount"], confirmation.json["TransactionType"]) == ("1.00", "Pay Bill")
    logged = await wait_for_c2b_payment(simulator)
    assert logged["originator_conversation_id"] == answer.json()["OriginatorCoversationID"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"CommandID": "CustomerPayBill"}, "Bad Request - Invalid CommandID"),
        ({"Amount": "1.5"}, "Bad Request - Invalid Amount"),
        ({"Msisdn": "0708374149"}, "Bad Request - Invalid Msisdn"),
        ({"Msisdn": "254733123456"}, "Bad Request - Invalid Msisdn"),
        ({"BillRefNumber": "X" * 21}, "Bad Request - Invalid BillRefNumber"),
    ],
)
async def test_a_malformed_simulate_is_refused_naming_the_field(
    simulator: RunningSimulator, fields: dict[str, Any], message: str
) -> None:
    body = {
        "ShortCode": "174379",
        "CommandID": "CustomerBuyGoodsOnline",
        "Amount": 1,
        "Msisdn": "254708374149",
    }
    async with daraja_client(simulator.base_url) as client:
        answer = await client.post(
            "/mpesa/c2b/v1/simulate", json={**body, **fields}, headers=bearer(await token(client))
        )
    assert_daraja_error(answer, 400, "400.002.02", message)


async def test_254711000006_gets_two_confirmations_with_the_same_trans_id(
    simulator: RunningSimulator, receiver: C2BReceiver
) -> None:
    await register(simulator, receiver)
    paid = (await customer_pay(simulator, till="174379", amount=70, phone="254711000006")).json()
    first, second = receiver.posts("confirmation")
    assert first.json == second.json
    assert first.json["TransID"] == paid["TransID"]
    assert paid["confirmations_delivered"] == 2


async def test_254711000005_confirmation_never_arrives_but_pull_transactions_finds_the_payment(
    simulator: RunningSimulator, receiver: C2BReceiver
) -> None:
    await register(simulator, receiver)
    paid = (await customer_pay(simulator, till="174379", amount=250, phone="254711000005")).json()
    assert (paid["status"], paid["confirmations_delivered"]) == ("completed", 0)
    assert "withheld" in paid["detail"]
    assert receiver.received == []
    assert [entry["kind"] for entry in (await simulator.log())["c2b"]] == ["payment"]
    [row] = await pull_rows(simulator)
    assert row["transactionId"] == paid["TransID"]
    assert row["amount"] == "250.00" and row["msisdn"] == 254711000005


async def test_a_payment_to_a_shortcode_with_no_urls_completes_and_only_pull_knows(
    simulator: RunningSimulator, receiver: C2BReceiver
) -> None:
    paid = (await customer_pay(simulator, till="555444", amount=5, phone="0712345678")).json()
    assert paid["status"] == "completed" and "no URLs registered" in paid["detail"]
    assert receiver.received == []
    assert [row["transactionId"] for row in await pull_rows(simulator, shortcode="555444")] == [
        paid["TransID"]
    ]


async def pull_rows(
    sim: RunningSimulator,
    *,
    shortcode: str = "174379",
    start: str = "2020-01-01 00:00:00",
    end: str = "2100-01-01 00:00",
) -> list[dict[str, Any]]:
    async with daraja_client(sim.base_url) as client:
        headers = bearer(await token(client))
        registration = {
            "ShortCode": shortcode,
            "RequestType": "Pull",
            "NominatedNumber": "0722000000",
            "CallBackURL": "http://127.0.0.1:9/pull",
        }
        assert (
            await client.post("/pulltransactions/v1/register", json=registration, headers=headers)
        ).status_code == 200
        answer = await client.post(
            "/pulltransactions/v1/query",
            json={"ShortCode": shortcode, "StartDate": start, "EndDate": end, "OffSetValue": "0"},
            headers=headers,
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"ResponseRefID", "ResponseCode", "ResponseMessage", "Response"}
    [rows] = body["Response"]
    assert body["ResponseCode"] == ("1000" if rows else "1001")
    return list(rows)


async def test_pull_transactions_registers_once_and_refuses_a_query_before_registering(
    simulator: RunningSimulator,
) -> None:
    registration = {
        "ShortCode": "174379",
        "RequestType": "Pull",
        "NominatedNumber": "0722000000",
        "CallBackURL": "http://127.0.0.1:9/pull",
    }
    query = {
        "ShortCode": "174379",
        "StartDate": "2026-01-01 00:00",
        "EndDate": "2026-01-02 00:00",
        "OffSetValue": "0",
    }
    async with daraja_client(simulator.base_url) as client:
        headers = bearer(await token(client))
        too_early = await client.post("/pulltransactions/v1/query", json=query, headers=headers)
        first = await client.post("/pulltransactions/v1/register", json=registration, headers=headers)
        again = await client.post("/pulltransactions/v1/register", json=registration, headers=headers)
    assert_daraja_error(too_early, 400, "400.002.02", "Bad Request - Invalid ShortCode")
    assert (first.json()["Response Status"], first.json()["Response Description"]) == (
        "1000",
        "Short code Registered Successfully",
    )
    assert (again.json()["Response Status"], again.json()["Response Description"]) == (
        "1001",
        "ShortCode already Registered",
    )
    assert set(first.json()) == {"ResponseRefID", "Response Status", "ShortCode", "Response Description"}


async def test_pull_transactions_returns_the_shortcodes_payments_of_the_last_48_hours_only(
    simulator_factory: SimulatorFactory, receiver: C2BReceiver
) -> None:
    clock = FakeClock()
    sim = await simulator_factory(clock=clock)
    await register(sim, receiver)
    old = (await customer_pay(sim, till="174379", amount=1, phone="0712345678")).json()
    clock.advance(47 * 3600)
    recent = (await customer_pay(sim, till="174379", amount=2, phone="0712345678", ref="R2")).json()
    await customer_pay(sim, till="600984", amount=3, phone="0712345678")
    both = await pull_rows(sim)
    assert [row["transactionId"] for row in both] == [old["TransID"], recent["TransID"]]
    assert both[1] == {
        "transactionId": recent["TransID"],
        "trxDate": both[1]["trxDate"],
        "msisdn": 254712345678,
        "sender": "DEMO",
        "transactiontype": "c2b-buy-goods-debit",
        "billreference": "R2",
        "amount": "2.00",
        "organizationname": DEMO_NOTICE,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", both[1]["trxDate"])
    clock.advance(2 * 3600)
    assert [row["transactionId"] for row in await pull_rows(sim)] == [recent["TransID"]]
    assert await pull_rows(sim, start="2020-01-01 00:00", end="2020-01-02 00:00") == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"till": "174379", "paybill": "600984", "amount": 1, "phone": "0712345678"}, "give exactly one of"),
        ({"till": "174379", "amount": 1, "phone": "0733123456"}, "0733 numbers are not M-Pesa lines"),
        ({"till": "174379", "amount": 1, "phone": "12"}, "not a Kenyan mobile number"),
        ({"paybill": "600984", "amount": 1, "phone": "0712345678"}, "needs an account number"),
        ({"till": "174379", "amount": 1.5, "phone": "0712345678"}, "whole number of shillings"),
        ({"qr": "not-a-qr", "phone": "0712345678"}, "not a QR code made by this simulator"),
        ([1, 2], "the body must be a JSON object"),
    ],
)
async def test_customer_pay_refuses_what_no_customer_could_do_and_says_why(
    simulator: RunningSimulator, body: Any, error: str
) -> None:
    async with daraja_client(simulator.base_url) as client:
        answer = await client.post("/simulator/c2b/pay", json=body)
    assert answer.status_code == 400
    assert error in answer.json()["error"]
    log = await simulator.log()
    assert log["c2b"] == []
    assert [entry["outcome"] for entry in log["requests"]] == [f"refused: {answer.json()['error']}"]


async def test_the_log_records_every_c2b_call_and_delivery_with_the_number_masked(
    simulator_factory: SimulatorFactory, receiver: C2BReceiver
) -> None:
    sim = await simulator_factory(c2b_validation=True)
    await register(sim, receiver)
    paid = (await customer_pay(sim, till="174379", amount=30, phone="0712345678")).json()
    log = await sim.log()
    assert [(e["path"], e["status"]) for e in log["requests"][1:]] == [
        ("/mpesa/c2b/v2/registerurl", 200),
        ("/simulator/c2b/pay", 200),
    ]
    assert log["requests"][2]["phone"] == "2547*****678"
    validation, confirmation, payment = log["c2b"]
    assert [validation["kind"], confirmation["kind"], payment["kind"]] == [
        "validation",
        "confirmation",
        "payment",
    ]
    assert {validation["trans_id"], confirmation["trans_id"], payment["trans_id"]} == {paid["TransID"]}
    assert confirmation["url"] == receiver.confirmation_url
    assert (confirmation["status"], confirmation["answer"]) == (
        200,
        {"ResultCode": 0, "ResultDesc": "Success"},
    )
    assert confirmation["body"]["MSISDN"] == "2547*****678"
    assert "254712345678" not in str(log)
    await sim.reset()
    assert (await sim.log())["c2b"] == []


async def test_mpesa_sim_customer_pay_pays_a_till_and_prints_the_receipt_and_the_log_shows_it(
    simulator: RunningSimulator, receiver: C2BReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    await register(simulator, receiver)
    argv = ["customer-pay", "--url", simulator.base_url, "--till", "174379", "--amount", "350"]
    assert await asyncio.to_thread(main, [*argv, "--phone", "0712345678", "--ref", "T-9"]) == 0
    printed = capsys.readouterr().out
    [confirmation] = receiver.posts("confirmation")
    assert printed.startswith(f"{DEMO_NOTICE}: KES 350 from 2547*****678 to 174379, M-Pesa receipt ")
    assert confirmation.json["TransID"] in printed and "confirmation sent 1×" in printed
    assert confirmation.json["BillRefNumber"] == "T-9"
    assert await asyncio.to_thread(main, ["log", "--url", simulator.base_url]) == 0
    text = capsys.readouterr().out
    assert (
        f"{confirmation.json['TransID']} to 174379 confirmation → {receiver.confirmation_url}  HTTP 200"
        in text
    )
    assert f"{confirmation.json['TransID']} to 174379 payment KES 350 from 2547*****678: completed" in text


async def test_mpesa_sim_customer_pay_explains_a_refusal(
    simulator: RunningSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["customer-pay", "--url", simulator.base_url, "--paybill", "600984", "--amount", "5"]
    assert await asyncio.to_thread(main, [*argv, "--phone", "0712345678"]) == 2
    assert "payment refused: a paybill payment needs an account number (ref)" in capsys.readouterr().err


def test_the_c2b_switches_on_the_command_line_become_the_settings() -> None:
    args = serve_parser().parse_args(
        ["--c2b-validation", "--c2b-validation-timeout", "3", "--c2b-register-once"]
    )
    settings = settings_from_args(args, {})
    assert (settings.c2b_validation, settings.c2b_validation_timeout_s, settings.c2b_register_once) == (
        True,
        3,
        True,
    )
    defaults = settings_from_args(serve_parser().parse_args([]), {})
    assert (defaults.c2b_validation, defaults.c2b_validation_timeout_s, defaults.c2b_register_once) == (
        False,
        8,
        False,
    )
