import base64
from decimal import Decimal
from typing import Any

import httpx
import pytest

from daraja_core.phones import InvalidPhone
from pos_app.daraja import (
    BUY_GOODS,
    AuthenticationFailed,
    DarajaClient,
    InvalidPaymentRequest,
    PushAccepted,
    PushNotSent,
    PushOutcomeUnknown,
    PushRateLimited,
    PushRejected,
    RateLimited,
)

from .fake_daraja import OAUTH, PASSKEY, PUSH, FakeClock, FakeDaraja, answer, make_client, make_config

CALLBACK = "https://relay.example.com/api/v1/callbacks/stk/abc"


def push_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "amount_kes": 10,
        "phone": "0708 374 149",
        "account_reference": "INV-1",
        "description": "Sale",
        "callback_url": CALLBACK,
    }
    args.update(overrides)
    return args


async def test_push_body_follows_the_daraja_contract(client: DarajaClient, fake: FakeDaraja) -> None:
    accepted = await client.stk_push(**push_args(callback_url=f"  {CALLBACK}\n"))
    assert accepted == PushAccepted(
        merchant_request_id="2654-4b64-97ff-b827b542881d3130",
        checkout_request_id="ws_CO_1007202409152617172396192",
        customer_message="Success. Request accepted for processing",
        response_description="Success. Request accepted for processing",
    )
    request = next(r for r in fake.requests if r.url.path == PUSH)
    assert request.method == "POST"
    assert str(request.url) == "https://sandbox.safaricom.co.ke/mpesa/stkpush/v1/processrequest"
    assert request.headers["Authorization"] == "Bearer token-1"
    body = fake.bodies(PUSH)[0]
    # The fake clock is 22:30:05 UTC: Nairobi is three hours ahead (docs/daraja.md §2).
    assert body["Timestamp"] == "20261122013005"
    assert base64.b64decode(body["Password"]).decode() == "174379" + PASSKEY + "20261122013005"
    assert body == {
        "BusinessShortCode": "174379",
        "Password": body["Password"],
        "Timestamp": "20261122013005",
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 10,
        "PartyA": "254708374149",
        "PartyB": "174379",
        "PhoneNumber": "254708374149",
        "CallBackURL": CALLBACK,
        "AccountReference": "INV-1",
        "TransactionDesc": "Sale",
    }


async def test_buy_goods_sends_the_store_number_and_the_till_as_party_b(
    fake: FakeDaraja, clock: FakeClock
) -> None:
    client, http = make_client(fake, clock, make_config(transaction_type=BUY_GOODS, till_number="8123456"))
    async with http:
        await client.stk_push(**push_args())
    body = fake.bodies(PUSH)[0]
    assert (body["TransactionType"], body["BusinessShortCode"], body["PartyB"]) == (
        "CustomerBuyGoodsOnline",
        "174379",
        "8123456",
    )


async def test_buy_goods_without_a_till_number_is_refused_before_any_request(
    fake: FakeDaraja, clock: FakeClock
) -> None:
    client, http = make_client(fake, clock, make_config(transaction_type=BUY_GOODS))
    async with http:
        with pytest.raises(InvalidPaymentRequest, match="till number"):
            await client.stk_push(**push_args())
    assert fake.requests == []


async def test_long_reference_and_description_are_trimmed_and_empty_ones_get_defaults(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    await client.stk_push(
        **push_args(account_reference=" ORDER-2026-11-21-0001 ", description="Groceries and milk")
    )
    await client.stk_push(**push_args(account_reference="  ", description=""))
    first, second = fake.bodies(PUSH)
    assert (first["AccountReference"], first["TransactionDesc"]) == ("ORDER-2026-1", "Groceries and")
    assert (second["AccountReference"], second["TransactionDesc"]) == ("Sale", "Payment")


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "at least KES 1"),
        (-5, "at least KES 1"),
        (250_001, "above the KES 250,000 limit"),
        (True, "whole number"),
        (10.0, "whole number"),
        (Decimal("10"), "whole number"),
        ("10", "whole number"),
    ],
)
async def test_bad_amounts_are_refused_before_any_request(
    client: DarajaClient, fake: FakeDaraja, amount: object, words: str
) -> None:
    with pytest.raises(InvalidPaymentRequest, match=words):
        await client.stk_push(**push_args(amount_kes=amount))
    assert fake.requests == []


async def test_the_configured_maximum_is_enforced(fake: FakeDaraja, clock: FakeClock) -> None:
    client, http = make_client(fake, clock, make_config(max_amount_kes=70_000))
    async with http:
        await client.stk_push(**push_args(amount_kes=70_000))
        with pytest.raises(InvalidPaymentRequest, match="70,000"):
            await client.stk_push(**push_args(amount_kes=70_001))
    assert fake.count(PUSH) == 1


@pytest.mark.parametrize(
    ("phone", "words"), [("", "Enter"), ("0808374149", "not a mobile"), ("07083", "short")]
)
async def test_bad_phones_are_refused_before_any_request_with_the_reason(
    client: DarajaClient, fake: FakeDaraja, phone: str, words: str
) -> None:
    with pytest.raises(InvalidPaymentRequest, match=words) as caught:
        await client.stk_push(**push_args(phone=phone))
    assert isinstance(caught.value, InvalidPhone)
    assert fake.requests == []


@pytest.mark.parametrize(
    "url", ["", "   ", "https://relay.example.com/call back", "ftp://relay.example.com/cb", "<your url>"]
)
async def test_bad_callback_urls_are_refused_before_any_request(
    client: DarajaClient, fake: FakeDaraja, url: str
) -> None:
    with pytest.raises(InvalidPaymentRequest, match="callback URL"):
        await client.stk_push(**push_args(callback_url=url))
    assert fake.requests == []


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
        httpx.WriteError("broken pipe"),
        httpx.WriteTimeout("write timed out"),
    ],
)
async def test_a_push_with_no_answer_after_sending_is_unknown_and_never_sent_again(
    client: DarajaClient, fake: FakeDaraja, failure: Exception
) -> None:
    fake.queue(PUSH, failure)
    with pytest.raises(PushOutcomeUnknown) as caught:
        await client.stk_push(**push_args())
    assert "check the customer's sms before charging again" in str(caught.value).lower()
    assert not isinstance(caught.value, PushRejected)
    assert fake.count(PUSH) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("connect timed out"), httpx.PoolTimeout("pool")],
)
async def test_a_push_whose_connection_never_opened_was_not_sent_and_is_safe_to_charge_again(
    client: DarajaClient, fake: FakeDaraja, failure: Exception
) -> None:
    fake.queue(PUSH, failure)
    with pytest.raises(PushNotSent, match="was not sent") as caught:
        await client.stk_push(**push_args())
    assert isinstance(caught.value, PushRejected)
    assert fake.count(PUSH) == 1


@pytest.mark.parametrize(
    "reply",
    [
        answer("push_500_internal_server_error.json"),
        httpx.Response(502, text="<html>Bad gateway</html>"),
        httpx.Response(503),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"ResponseCode": "0"}),
        httpx.Response(302, headers={"Location": "https://elsewhere"}),
    ],
)
async def test_server_errors_and_unreadable_answers_after_sending_are_unknown(
    client: DarajaClient, fake: FakeDaraja, reply: httpx.Response
) -> None:
    fake.queue(PUSH, reply)
    with pytest.raises(PushOutcomeUnknown):
        await client.stk_push(**push_args())
    assert fake.count(PUSH) == 1


async def test_an_unknown_push_keeps_daraja_s_error_fields(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(PUSH, answer("push_500_internal_server_error.json"))
    with pytest.raises(PushOutcomeUnknown) as caught:
        await client.stk_push(**push_args())
    error = caught.value
    assert (error.error_code, error.error_message, error.request_id, error.http_status) == (
        "500.003.1001",
        "Internal Server Error",
        "1494-250373-30",
        500,
    )


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("push_500_wrong_credentials.json", "MPESA_PASSKEY"),
        ("push_500_wrong_credentials_merchantvalidate.json", "MPESA_PASSKEY"),
        ("push_500_merchant_does_not_exist.json", "does not know this shortcode"),
        ("push_500_unable_to_lock_subscriber.json", "prompt open"),
    ],
)
async def test_definite_merchant_refusals_are_rejections_not_unknowns(
    client: DarajaClient, fake: FakeDaraja, name: str, words: str
) -> None:
    fake.queue(PUSH, answer(name))
    with pytest.raises(PushRejected, match=words) as caught:
        await client.stk_push(**push_args())
    assert caught.value.error_code == "500.001.1001"
    assert fake.count(PUSH) == 1


async def test_an_unrecognised_merchant_error_text_is_unknown(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(PUSH, httpx.Response(500, json={"errorCode": "500.001.1001", "errorMessage": "Something new"}))
    with pytest.raises(PushOutcomeUnknown):
        await client.stk_push(**push_args())


BAD_REQUESTS = [
    "push_400_invalid_businessshortcode.json",
    "push_400_invalid_timestamp.json",
    "push_400_invalid_amount.json",
    "push_400_invalid_phonenumber.json",
    "push_400_invalid_callbackurl.json",
    "push_400_invalid_remarks.json",
    "push_400_invalid_shortcode.json",
    "push_400_invalid_partya.json",
    "push_400_invalid_request_payload.json",
    "push_404_resource_not_found.json",
    "push_405_method_not_allowed.json",
]


@pytest.mark.parametrize("name", BAD_REQUESTS)
async def test_bad_request_answers_are_rejections_keeping_daraja_s_words(
    client: DarajaClient, fake: FakeDaraja, name: str
) -> None:
    fake.queue(PUSH, answer(name))
    with pytest.raises(PushRejected) as caught:
        await client.stk_push(**push_args())
    error = caught.value
    assert error.error_message and error.error_message in str(error)
    assert error.request_id and error.request_id in str(error)
    assert fake.count(PUSH) == 1


async def test_a_non_zero_response_code_is_a_rejection(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(PUSH, httpx.Response(200, json={"ResponseCode": "1", "ResponseDescription": "Rejected"}))
    with pytest.raises(PushRejected, match="Rejected"):
        await client.stk_push(**push_args())


@pytest.mark.parametrize(
    "name",
    [
        "push_404_invalid_access_token.json",
        "push_400_invalid_access_token.json",
        "push_401_invalid_access_token.json",
    ],
)
async def test_an_invalid_token_refreshes_once_and_resends_because_the_gateway_stopped_the_push(
    client: DarajaClient, fake: FakeDaraja, name: str
) -> None:
    fake.queue(PUSH, answer(name))
    accepted = await client.stk_push(**push_args())
    assert accepted.checkout_request_id == "ws_CO_1007202409152617172396192"
    assert fake.paths() == [OAUTH, PUSH, OAUTH, PUSH]
    assert [r.headers["Authorization"] for r in fake.requests if r.url.path == PUSH] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


async def test_a_fresh_token_refused_again_is_a_rejection_after_exactly_two_pushes(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    fake.queue(
        PUSH, answer("push_404_invalid_access_token.json"), answer("push_404_invalid_access_token.json")
    )
    with pytest.raises(PushRejected, match="sandbox vs production") as caught:
        await client.stk_push(**push_args())
    assert caught.value.error_code == "404.001.03"
    assert fake.count(PUSH) == 2


async def test_after_an_invalid_token_a_timeout_is_still_unknown_and_not_sent_a_third_time(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    fake.queue(PUSH, answer("push_404_invalid_access_token.json"), httpx.ReadTimeout("slow"))
    with pytest.raises(PushOutcomeUnknown):
        await client.stk_push(**push_args())
    assert fake.count(PUSH) == 2


@pytest.mark.parametrize(
    "name",
    [
        "push_500_spike_arrest.json",
        "push_500_system_busy.json",
        "push_500_quota_violation.json",
        "push_429_apigee_spike_arrest.json",
    ],
)
async def test_rate_limited_pushes_are_rejected_not_retried(
    client: DarajaClient, fake: FakeDaraja, name: str
) -> None:
    fake.queue(PUSH, answer(name))
    with pytest.raises(PushRateLimited) as caught:
        await client.stk_push(**push_args())
    assert isinstance(caught.value, PushRejected) and isinstance(caught.value, RateLimited)
    assert fake.count(PUSH) == 1


async def test_when_the_token_cannot_be_had_no_push_is_sent(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(OAUTH, answer("oauth_400_empty_body.json"))
    with pytest.raises(AuthenticationFailed):
        await client.stk_push(**push_args())
    assert fake.count(PUSH) == 0


async def test_an_access_token_daraja_quotes_back_stays_out_of_the_error_and_the_log(
    client: DarajaClient, fake: FakeDaraja, caplog: pytest.LogCaptureFixture
) -> None:
    # 401.002.01 "Error Occurred - Invalid Access Token - <token>" (docs/daraja.md §1): Daraja echoes the
    # bearer token it was sent; the till shows and logs the error's text.
    def refuse(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        return httpx.Response(
            401,
            json={
                "requestId": "fe1e-4199-8a60-70ebcbfc601826622177",
                "errorCode": "401.002.01",
                "errorMessage": f"Error Occurred - Invalid Access Token - {token}",
            },
        )

    fake.queue(PUSH, refuse, refuse)
    with caplog.at_level("DEBUG"), pytest.raises(PushRejected) as caught:
        await client.stk_push(**push_args())
    assert caught.value.error_code == "401.002.01"
    assert "Invalid Access Token" in str(caught.value)
    for token in ("token-1", "token-2"):
        assert token not in str(caught.value) and token not in caught.value.error_message
        assert token not in caplog.text
