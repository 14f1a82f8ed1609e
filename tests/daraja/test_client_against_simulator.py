"""The till's Daraja client against the real Daraja simulator over loopback HTTP.

The simulator's clock is injected (so "has the customer answered yet" and token expiry are steps, not
waits); its callbacks still travel over real HTTP to a recording sink. Every claim about what was sent
is checked in the simulator's own request log.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from daraja_core.callback import parse_stk_callback
from daraja_core.mobile_networks import Network
from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from daraja_core.results import Outcome, classify
from daraja_core.simulator import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET
from pos_app.daraja import (
    BUY_GOODS,
    AuthenticationFailed,
    DarajaClient,
    DarajaConfig,
    DarajaError,
    InvalidPaymentRequest,
    PhoneNotMpesa,
    PushOutcomeUnknown,
    PushRejected,
)
from pos_app.daraja.client import OAUTH_PATH, STK_PUSH_PATH, STK_QUERY_PATH
from tests.support.simulator_fixtures import CallbackSink, RunningSimulator, SimulatorFactory


class SimClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 21, 9, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def sim_clock() -> SimClock:
    return SimClock()


@pytest.fixture
async def sim(simulator_factory: SimulatorFactory, sim_clock: SimClock) -> RunningSimulator:
    return await simulator_factory(clock=sim_clock.now)


def loopback_http(timeout_s: float = 5.0) -> httpx.AsyncClient:
    # TCP_NODELAY: a POST body is not held back ~40 ms behind its headers on loopback.
    transport = httpx.AsyncHTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.AsyncClient(transport=transport, timeout=timeout_s, trust_env=False)


def sim_config(sim: RunningSimulator, **overrides: Any) -> DarajaConfig:
    values: dict[str, Any] = {
        "consumer_key": SIM_CONSUMER_KEY,
        "consumer_secret": SIM_CONSUMER_SECRET,
        "shortcode": SANDBOX_SHORTCODE,
        "passkey": SANDBOX_PASSKEY,
        "base_url_override": sim.base_url,
    }
    values.update(overrides)
    return DarajaConfig(**values)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with loopback_http() as client:
        yield client


@pytest.fixture
def make(sim: RunningSimulator, http: httpx.AsyncClient, sim_clock: SimClock) -> Callable[..., DarajaClient]:
    def build(client_http: httpx.AsyncClient | None = None, **overrides: Any) -> DarajaClient:
        async def sleep(seconds: float) -> None:
            sim_clock.advance(seconds)

        return DarajaClient(sim_config(sim, **overrides), client_http or http, now=sim_clock.now, sleep=sleep)

    return build


async def requests_to(sim: RunningSimulator, path: str) -> list[dict[str, Any]]:
    return [entry for entry in (await sim.log())["requests"] if entry["path"] == path]


def push(client: DarajaClient, phone: str, sink: CallbackSink, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "amount_kes": 10,
        "phone": phone,
        "account_reference": "SALE-1",
        "description": "Groceries",
        "callback_url": sink.url,
    }
    args.update(overrides)
    return client.stk_push(**args)


SETTLING_SCENARIOS = [
    ("0708374149", "0", Outcome.PAID, 1),
    ("254711000001", "1032", Outcome.CANCELLED, 1),
    ("254711000002", "1", Outcome.INSUFFICIENT_FUNDS, 1),
    ("254711000003", "2001", Outcome.WRONG_PIN, 1),
    ("254711000004", "1037", Outcome.UNREACHABLE, 1),
    ("254711000005", "0", Outcome.PAID, 0),
    ("254711000006", "0", Outcome.PAID, 2),
    ("254711000010", "1019", Outcome.EXPIRED, 1),
    ("254711000011", "17", Outcome.LIMIT, 1),
    ("0722 000 123", "0", Outcome.PAID, 1),
]


@pytest.mark.parametrize(("phone", "code", "outcome", "callbacks"), SETTLING_SCENARIOS)
async def test_each_scenario_is_accepted_pending_then_final_with_matching_callbacks(
    make: Callable[..., DarajaClient],
    sim_clock: SimClock,
    callback_sink: CallbackSink,
    phone: str,
    code: str,
    outcome: Outcome,
    callbacks: int,
) -> None:
    client = make()
    accepted = await push(client, phone, callback_sink)
    assert accepted.checkout_request_id.startswith("ws_CO_")

    first = await client.stk_query(accepted.checkout_request_id)
    assert (first.state, first.result_code) == ("pending", "4999")

    sim_clock.advance(60)
    final = await client.stk_query(accepted.checkout_request_id)
    assert (final.state, final.result_code) == ("final", code)
    assert final.info is not None and final.info.outcome is outcome

    if callbacks:
        received = await callback_sink.wait_for(callbacks)
        parsed = [parse_stk_callback(c.raw) for c in received]
        assert {p.checkout_request_id for p in parsed} == {accepted.checkout_request_id}
        assert {classify(p.result_code).outcome for p in parsed} == {outcome}
        if outcome is Outcome.PAID:
            assert all(p.amount_kes == 10 and p.receipt for p in parsed)
    else:
        # A later push that does call back falls due after this one would have: once it is in, this one
        # would be too.
        later = await push(client, "0708374149", callback_sink)
        await callback_sink.wait_for_checkout(later.checkout_request_id)
        assert callback_sink.for_checkout(accepted.checkout_request_id) == []


async def test_a_locked_subscriber_is_refused_at_once_and_is_safe_to_charge_again(
    make: Callable[..., DarajaClient], sim: RunningSimulator, callback_sink: CallbackSink
) -> None:
    with pytest.raises(PushRejected, match="prompt open") as caught:
        await push(make(), "254711000007", callback_sink)
    assert (caught.value.error_code, caught.value.http_status) == ("500.001.1001", 500)
    assert caught.value.request_id
    assert len(await requests_to(sim, STK_PUSH_PATH)) == 1


async def test_an_internal_server_error_on_the_push_is_unknown_and_not_resent(
    make: Callable[..., DarajaClient], sim: RunningSimulator, callback_sink: CallbackSink
) -> None:
    with pytest.raises(PushOutcomeUnknown) as caught:
        await push(make(), "254711000009", callback_sink)
    assert caught.value.error_code == "500.003.1001"
    assert len(await requests_to(sim, STK_PUSH_PATH)) == 1


async def test_a_push_that_times_out_is_unknown_sent_exactly_once_and_the_prompt_was_real(
    make: Callable[..., DarajaClient], sim: RunningSimulator, callback_sink: CallbackSink
) -> None:
    async with loopback_http(timeout_s=0.5) as short:
        with pytest.raises(PushOutcomeUnknown, match="prompt may be on the customer's phone"):
            await push(make(short), "254711000008", callback_sink)
        # The simulated customer pays anyway: the callback proves the prompt was on the phone.
        (paid,) = await callback_sink.wait_for(1)
        assert parse_stk_callback(paid.raw).result_code == "0"
    # The client has nothing running in the background: what the simulator logged now is all it sent.
    pushes = await requests_to(sim, STK_PUSH_PATH)
    assert len(pushes) == 1
    assert "held back" in pushes[0]["outcome"]


async def test_bad_consumer_credentials_fail_with_a_clear_message_and_no_push(
    make: Callable[..., DarajaClient], sim: RunningSimulator, callback_sink: CallbackSink
) -> None:
    with pytest.raises(AuthenticationFailed, match="check MPESA_CONSUMER_KEY/MPESA_CONSUMER_SECRET"):
        await push(make(consumer_secret="not-the-secret"), "0708374149", callback_sink)
    assert await requests_to(sim, STK_PUSH_PATH) == []
    (oauth,) = await requests_to(sim, OAUTH_PATH)
    assert oauth["status"] == 400


async def test_a_wrong_passkey_is_a_wrong_credentials_rejection_for_push_and_query(
    make: Callable[..., DarajaClient], callback_sink: CallbackSink
) -> None:
    client = make(passkey="0" * 64)
    with pytest.raises(PushRejected, match="wrong credentials") as caught:
        await push(client, "0708374149", callback_sink)
    assert (caught.value.error_code, caught.value.error_message) == ("500.001.1001", "Wrong credentials")
    with pytest.raises(DarajaError, match="MPESA_PASSKEY"):
        await client.stk_query("ws_CO_21112026120000000708374149")


async def test_an_unknown_shortcode_is_merchant_does_not_exist(
    make: Callable[..., DarajaClient], callback_sink: CallbackSink
) -> None:
    with pytest.raises(PushRejected, match="does not know this shortcode") as caught:
        await push(make(shortcode="600999"), "0708374149", callback_sink)
    assert caught.value.error_message == "Merchant does not exist"


@pytest.mark.parametrize(
    ("field", "value", "local_args", "daraja_words"),
    [
        ("PhoneNumber", "0708374149", {"phone": "12345"}, "Invalid PhoneNumber"),
        ("PhoneNumber", "254733123456", {"phone": "0733 123 456"}, "Invalid PhoneNumber"),
        ("PartyA", "254771123456", {"phone": "0771 123 456"}, "Invalid PhoneNumber"),
        ("Amount", "10.50", {"amount_kes": 10.5}, "Invalid Amount"),
        ("Amount", 0, {"amount_kes": 0}, "Invalid Amount"),
        (
            "CallBackURL",
            "https://relay.example.com/cb back",
            {"callback_url": "https://x.test/a b"},
            "Invalid CallBackURL",
        ),
        ("TransactionDesc", "", None, "Invalid Remarks"),
    ],
)
async def test_what_local_validation_stops_daraja_would_refuse(
    make: Callable[..., DarajaClient],
    sim: RunningSimulator,
    callback_sink: CallbackSink,
    field: str,
    value: Any,
    local_args: dict[str, Any] | None,
    daraja_words: str,
) -> None:
    client = make()
    if local_args is not None:
        args = {"phone": "0708374149", **local_args}
        with pytest.raises(InvalidPaymentRequest):
            await push(client, args.pop("phone"), callback_sink, **args)
        assert (await sim.log())["requests"] == []
    # Bypass local validation to see Daraja's (the simulator's) own refusal.
    body = client.prepare_stk_push(
        amount_kes=10,
        phone="0708374149",
        account_reference="SALE-1",
        description="x",
        callback_url=callback_sink.url,
    )
    body[field] = value
    with pytest.raises(PushRejected, match=daraja_words) as caught:
        await client._send_stk_push(body)
    assert caught.value.error_code == "400.002.02"


@pytest.mark.parametrize(
    ("phone", "network", "words"),
    [
        ("0733 123 456", Network.AIRTEL, "0733 numbers are Airtel lines"),
        ("0100 123 456", Network.AIRTEL, "0100 numbers are Airtel lines"),
        ("+254 771 123 456", Network.TELKOM, "0771 numbers are Telkom lines"),
    ],
)
async def test_no_push_ever_goes_to_a_number_on_another_network(
    make: Callable[..., DarajaClient],
    sim: RunningSimulator,
    callback_sink: CallbackSink,
    phone: str,
    network: Network,
    words: str,
) -> None:
    # docs/daraja.md §2c: STK Push reaches Safaricom M-Pesa lines only.
    with pytest.raises(PhoneNotMpesa, match=words) as caught:
        await push(make(), phone, callback_sink)
    assert caught.value.network is network
    assert "STK Push reaches Safaricom M-Pesa lines only" in str(caught.value)
    assert (await sim.log())["requests"] == []


async def test_an_empty_description_is_sent_as_a_default_so_daraja_never_sees_empty_remarks(
    make: Callable[..., DarajaClient], callback_sink: CallbackSink
) -> None:
    accepted = await push(make(), "0708374149", callback_sink, description="   ", account_reference="")
    assert accepted.checkout_request_id


async def test_one_token_serves_many_pushes_and_queries(
    make: Callable[..., DarajaClient], sim: RunningSimulator, sim_clock: SimClock, callback_sink: CallbackSink
) -> None:
    client = make()
    for _ in range(5):
        accepted = await push(client, "0708374149", callback_sink)
        await client.stk_query(accepted.checkout_request_id)
    assert len(await requests_to(sim, OAUTH_PATH)) == 1
    assert len(await requests_to(sim, STK_PUSH_PATH)) == 5
    assert len(await requests_to(sim, STK_QUERY_PATH)) == 5


async def test_concurrent_pushes_share_one_token(
    make: Callable[..., DarajaClient], sim: RunningSimulator, callback_sink: CallbackSink
) -> None:
    client = make()
    results = await asyncio.gather(*(push(client, f"07220001{n:02d}", callback_sink) for n in range(8)))
    assert len({r.checkout_request_id for r in results}) == 8
    assert len(await requests_to(sim, OAUTH_PATH)) == 1


async def test_an_expired_token_is_refreshed_once_and_the_push_goes_through(
    make: Callable[..., DarajaClient], sim: RunningSimulator, sim_clock: SimClock, callback_sink: CallbackSink
) -> None:
    client = make()
    await client.access_token()
    # The simulator's token expires while the client (its own monotonic clock) still trusts it.
    sim_clock.advance(3600)
    accepted = await push(client, "0708374149", callback_sink)
    assert accepted.checkout_request_id
    log = (await sim.log())["requests"]
    assert [(e["path"], e["status"]) for e in log] == [
        (OAUTH_PATH, 200),
        (STK_PUSH_PATH, 404),
        (OAUTH_PATH, 200),
        (STK_PUSH_PATH, 200),
    ]


async def test_an_unknown_checkout_id_is_not_found(make: Callable[..., DarajaClient]) -> None:
    answer = await make().stk_query("ws_CO_01012026000000000708374149")
    assert (answer.state, answer.result_code) == ("not_found", None)
    assert "does not Exist" in answer.result_desc


async def test_querying_too_fast_backs_off_and_then_gets_the_answer(
    make: Callable[..., DarajaClient], sim: RunningSimulator, sim_clock: SimClock, callback_sink: CallbackSink
) -> None:
    client = make()
    accepted = await push(client, "0708374149", callback_sink)
    await client.stk_query(accepted.checkout_request_id)
    # Same instant on the simulator's clock: Spike Arrest; the injected sleep moves the clock on, past
    # the simulated customer's answer.
    answer = await client.stk_query(accepted.checkout_request_id)
    assert (answer.state, answer.result_code) == ("final", "0")
    statuses = [e["status"] for e in await requests_to(sim, STK_QUERY_PATH)]
    assert statuses == [200, 500, 200]


async def test_buy_goods_pays_with_the_till_as_party_b_and_a_till_as_shortcode_is_operator_unknown(
    make: Callable[..., DarajaClient], sim_clock: SimClock, callback_sink: CallbackSink
) -> None:
    good = make(transaction_type=BUY_GOODS, till_number="8123456")
    wrong = make(transaction_type=BUY_GOODS, till_number=SANDBOX_SHORTCODE)
    paid = await push(good, "0708374149", callback_sink)
    misconfigured = await push(wrong, "0708374149", callback_sink)
    sim_clock.advance(60)
    assert (await good.stk_query(paid.checkout_request_id)).result_code == "0"
    answer = await wrong.stk_query(misconfigured.checkout_request_id)
    assert answer.result_code == "SFC_IC0003"
    assert answer.info is not None and answer.info.outcome is Outcome.REJECTED
