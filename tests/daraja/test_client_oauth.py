import asyncio
import base64
import logging
from typing import Any

import httpx
import pytest

from pos_app.daraja import AuthenticationFailed, DarajaClient, DarajaError, DarajaUnreachable, RateLimited

from .fake_daraja import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    OAUTH,
    PASSKEY,
    PUSH,
    FakeClock,
    FakeDaraja,
    answer,
    token_answer,
)

PUSH_ARGS: dict[str, Any] = {
    "amount_kes": 10,
    "phone": "0708374149",
    "account_reference": "INV-1",
    "description": "Sale",
    "callback_url": "https://relay.example.com/api/v1/callbacks/stk/abc",
}


async def test_token_request_is_a_basic_auth_get_with_client_credentials(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    assert await client.access_token() == "token-1"
    request = fake.requests[0]
    assert request.method == "GET"
    assert (
        str(request.url) == "https://sandbox.safaricom.co.ke/oauth/v1/generate?grant_type=client_credentials"
    )
    expected = base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


@pytest.mark.parametrize("name", ["oauth_200_expires_in_string.json", "oauth_200_expires_in_number.json"])
async def test_one_token_serves_many_requests_whether_expires_in_is_a_string_or_a_number(
    client: DarajaClient, fake: FakeDaraja, name: str
) -> None:
    fake.queue(OAUTH, answer(name))
    for _ in range(3):
        await client.stk_push(**PUSH_ARGS)
    assert fake.count(OAUTH) == 1
    assert {r.headers["Authorization"] for r in fake.requests if r.url.path == PUSH} == {
        "Bearer c9SQxWWhmdVRlyh0zh8gZDTkubVF"
    }


async def test_token_is_refreshed_a_minute_before_it_expires(
    client: DarajaClient, fake: FakeDaraja, clock: FakeClock
) -> None:
    assert await client.access_token() == "token-1"
    clock.mono += 3599 - 61
    assert await client.access_token() == "token-1"
    clock.mono += 2
    assert await client.access_token() == "token-2"
    assert fake.count(OAUTH) == 2


async def test_a_very_short_lifetime_is_still_used_for_half_of_it(
    client: DarajaClient, fake: FakeDaraja, clock: FakeClock
) -> None:
    fake.queue(OAUTH, token_answer("short", expires_in=10))
    assert await client.access_token() == "short"
    clock.mono += 4
    assert await client.access_token() == "short"
    clock.mono += 2
    assert await client.access_token() == "token-1"


@pytest.mark.parametrize("expires_in", [None, "soon", True, -5, "0"])
async def test_an_unreadable_lifetime_falls_back_to_daraja_s_usual_3599_seconds(
    client: DarajaClient, fake: FakeDaraja, clock: FakeClock, expires_in: object
) -> None:
    fake.queue(OAUTH, token_answer("odd", expires_in=expires_in))
    await client.access_token()
    clock.mono += 3000
    assert await client.access_token() == "odd"


async def test_concurrent_callers_share_one_refresh(client: DarajaClient, fake: FakeDaraja) -> None:
    asked, release = asyncio.Event(), asyncio.Event()

    async def slow_token(request: httpx.Request) -> httpx.Response:
        asked.set()
        await release.wait()
        return token_answer("shared")

    fake.queue(OAUTH, slow_token)
    waiters = [asyncio.create_task(client.access_token()) for _ in range(10)]
    await asked.wait()  # the refresh is out; every caller started before it
    release.set()
    assert await asyncio.gather(*waiters) == ["shared"] * 10
    assert fake.count(OAUTH) == 1


async def test_concurrent_callers_share_one_failed_refresh(client: DarajaClient, fake: FakeDaraja) -> None:
    fake.queue(OAUTH, answer("oauth_400_empty_body.json"))
    results = await asyncio.gather(*(client.access_token() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, AuthenticationFailed) for r in results)
    assert fake.count(OAUTH) == 1
    assert await client.access_token() == "token-1"


async def test_a_cancelled_caller_does_not_cancel_the_shared_refresh(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    asked, release = asyncio.Event(), asyncio.Event()

    async def slow_token(request: httpx.Request) -> httpx.Response:
        asked.set()
        await release.wait()
        return token_answer("survivor")

    fake.queue(OAUTH, slow_token)
    first = asyncio.create_task(client.access_token())
    second = asyncio.create_task(client.access_token())
    await asked.wait()  # the shared refresh is out, on the first caller's behalf
    first.cancel()
    release.set()
    assert await second == "survivor"
    assert fake.count(OAUTH) == 1


async def test_bad_key_or_secret_gives_a_clear_authentication_error(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    fake.queue(OAUTH, answer("oauth_400_empty_body.json"))
    with pytest.raises(AuthenticationFailed) as caught:
        await client.access_token()
    assert "Daraja refused the consumer key/secret: check MPESA_CONSUMER_KEY/MPESA_CONSUMER_SECRET" in str(
        caught.value
    )
    assert "sandbox vs production" in str(caught.value)
    assert caught.value.http_status == 400


async def test_documented_auth_errors_keep_daraja_s_code_and_request_id(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    fake.queue(OAUTH, answer("oauth_400_invalid_grant_type.json"))
    with pytest.raises(AuthenticationFailed) as caught:
        await client.access_token()
    error = caught.value
    assert (error.error_code, error.error_message, error.request_id) == (
        "400.008.02",
        "Invalid grant type passed",
        "11259-2330641-1",
    )


async def test_token_service_outage_and_unreachable_host_are_unreachable(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    fake.queue(OAUTH, httpx.Response(503, text="<html>down</html>"), httpx.ConnectError("refused"))
    with pytest.raises(DarajaUnreachable):
        await client.access_token()
    with pytest.raises(DarajaUnreachable, match="Could not reach Daraja"):
        await client.access_token()


async def test_token_service_rate_limit_and_odd_answers_are_typed(
    client: DarajaClient, fake: FakeDaraja
) -> None:
    fake.queue(OAUTH, answer("push_429_apigee_spike_arrest.json"), httpx.Response(200, json={"nope": 1}))
    with pytest.raises(RateLimited):
        await client.access_token()
    with pytest.raises(DarajaError, match="Unexpected answer"):
        await client.access_token()


async def test_a_failed_push_never_logs_secrets_or_tokens(
    client: DarajaClient, fake: FakeDaraja, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.queue(OAUTH, token_answer("tok-SECRET-123"))
    fake.queue(PUSH, answer("push_404_invalid_access_token.json"), answer("push_500_wrong_credentials.json"))
    with pytest.raises(DarajaError):
        await client.stk_push(**PUSH_ARGS)
    await client.stk_push(**PUSH_ARGS)
    text = caplog.text
    for secret in (
        CONSUMER_KEY,
        CONSUMER_SECRET,
        PASSKEY,
        "tok-SECRET-123",
        "token-1",
        "0708374149",
        "254708374149",
    ):
        assert secret not in text
    assert "2547*****149" in text
