import base64

import httpx
import pytest

from daraja_core.results import Outcome
from pos_app.daraja import DarajaClient, DarajaError, DarajaUnreachable, InvalidAccessToken, RateLimited

from .fake_daraja import OAUTH, PASSKEY, QUERY, FakeClock, FakeDaraja, answer

CHECKOUT_ID = "ws_CO_13012021093521236557"


async def test_query_body_carries_password_timestamp_and_the_checkout_id(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    await client.stk_query(f" {CHECKOUT_ID} ")
    request = next(r for r in fake.requests if r.url.path == QUERY)
    assert str(request.url) == "https://sandbox.safaricom.co.ke/mpesa/stkpushquery/v1/query"
    assert request.headers["Authorization"] == "Bearer token-1"
    body = fake.bodies(QUERY)[0]
    assert body == {
        "BusinessShortCode": "174379",
        "Password": body["Password"],
        "Timestamp": "20261122013005",
        "CheckoutRequestID": CHECKOUT_ID,
    }
    assert base64.b64decode(body["Password"]).decode() == "174379" + PASSKEY + "20261122013005"


@pytest.mark.parametrize(
    ("name", "state", "code", "outcome"),
    [
        ("query_200_paid.json", "final", "0", Outcome.PAID),
        ("query_200_paid_numeric_code.json", "final", "0", Outcome.PAID),
        ("query_200_cancelled_1032_typo.json", "final", "1032", Outcome.CANCELLED),
        ("query_200_unreachable_1037.json", "final", "1037", Outcome.UNREACHABLE),
        ("query_200_bad_debt_E3008.json", "final", "E3008", Outcome.REJECTED),
        ("query_200_pending_4999.json", "pending", "4999", None),
        ("query_500_being_processed.json", "pending", None, None),
        ("query_500_under_processing.json", "pending", None, None),
        ("query_500_does_not_exist.json", "not_found", None, None),
    ],
)
async def test_query_answers_map_to_pending_final_or_not_found(
    client: DarajaClient,
    fake: FakeDaraja,
    name: str,
    state: str,
    code: str | None,
    outcome: Outcome | None,
) -> None:
    fake.queue(QUERY, answer(name))
    result = await client.stk_query(CHECKOUT_ID)
    assert (result.state, result.result_code) == (state, code)
    assert (result.info.outcome if result.info else None) is outcome
    assert result.result_desc
    assert fake.count(QUERY) == 1


async def test_sporadic_merchant_error_for_a_known_id_means_ask_again(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    fake.queue(
        QUERY,
        httpx.Response(
            500, json={"requestId": CHECKOUT_ID, "errorCode": "500.001.1001", "errorMessage": "Error"}
        ),
        answer("push_500_internal_server_error.json"),
        httpx.Response(503, text="<html/>"),
    )
    for _ in range(3):
        assert (await client.stk_query(CHECKOUT_ID)).state == "pending"


async def test_a_200_without_result_code_is_pending(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(QUERY, httpx.Response(200, json={"ResponseCode": "0", "ResponseDescription": "accepted"}))
    answer_ = await client.stk_query(CHECKOUT_ID)
    assert (answer_.state, answer_.result_code, answer_.info) == ("pending", None, None)


@pytest.mark.parametrize(
    "name",
    [
        "push_404_invalid_access_token.json",
        "push_400_invalid_access_token.json",
        "push_401_invalid_access_token.json",
    ],
)
async def test_an_invalid_token_refreshes_once_and_asks_again(
    client: DarajaClient, fake: FakeDaraja, name: str
) -> None:
    fake.queue(QUERY, answer(name))
    assert (await client.stk_query(CHECKOUT_ID)).state == "final"
    assert fake.paths() == [OAUTH, QUERY, OAUTH, QUERY]


async def test_a_fresh_token_refused_again_raises_invalid_access_token(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    fake.queue(
        QUERY, answer("push_404_invalid_access_token.json"), answer("push_404_invalid_access_token.json")
    )
    with pytest.raises(InvalidAccessToken) as caught:
        await client.stk_query(CHECKOUT_ID)
    assert caught.value.error_code == "404.001.03"
    assert fake.count(QUERY) == 2


async def test_rate_limits_back_off_with_jitter_then_succeed(
    client: DarajaClient, fake: FakeDaraja, clock: FakeClock
) -> None:
    fake.queue(QUERY, answer("push_500_spike_arrest.json"), answer("push_429_apigee_spike_arrest.json"))
    assert (await client.stk_query(CHECKOUT_ID)).state == "final"
    # Jitter fixed at 0.5: half the ceiling plus half of the other half; ceilings 1 s, 2 s.
    assert clock.slept == [0.75, 1.5]
    assert fake.count(QUERY) == 3


async def test_persistent_rate_limiting_raises_after_a_few_tries(
    client: DarajaClient, fake: FakeDaraja, clock: FakeClock
) -> None:
    fake.queue(QUERY, *(answer("push_500_quota_violation.json") for _ in range(10)))
    with pytest.raises(RateLimited) as caught:
        await client.stk_query(CHECKOUT_ID)
    assert caught.value.error_code == "500.003.03"
    assert fake.count(QUERY) == 4
    assert clock.slept == [0.75, 1.5, 3.0]


async def test_no_connection_is_unreachable(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(QUERY, httpx.ReadTimeout("slow"), httpx.ConnectError("refused"))
    for _ in range(2):
        with pytest.raises(DarajaUnreachable, match="No answer from Daraja"):
            await client.stk_query(CHECKOUT_ID)


async def test_a_refused_query_keeps_daraja_s_words(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(QUERY, answer("push_400_invalid_businessshortcode.json"))
    with pytest.raises(DarajaError, match="Invalid BusinessShortCode") as caught:
        await client.stk_query(CHECKOUT_ID)
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("push_500_wrong_credentials.json", "MPESA_PASSKEY"),
        ("push_500_merchant_does_not_exist.json", "shortcode"),
    ],
)
async def test_credential_refusals_are_errors_not_pending(
    client: DarajaClient, fake: FakeDaraja, name: str, words: str
) -> None:
    fake.queue(QUERY, answer(name))
    with pytest.raises(DarajaError, match=words) as caught:
        await client.stk_query(CHECKOUT_ID)
    assert caught.value.error_code == "500.001.1001"


async def test_an_unreadable_200_is_an_error_not_a_result(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(QUERY, httpx.Response(200, text="<html>"))
    with pytest.raises(DarajaError, match="Unreadable"):
        await client.stk_query(CHECKOUT_ID)


async def test_an_empty_checkout_id_is_refused_before_any_request(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    with pytest.raises(ValueError, match="CheckoutRequestID"):
        await client.stk_query("  ")
    assert fake.requests == []
