"""OAuth as Daraja does it (docs/daraja.md §1)."""

from __future__ import annotations

import base64
import string

import pytest

from daraja_core.simulator import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET, SimulatorSettings
from tests.simulator.daraja_calls import (
    TOKEN_PATH,
    FakeClock,
    assert_daraja_error,
    basic,
    daraja_client,
    push,
    token,
)
from tests.support.simulator_fixtures import RunningSimulator, SimulatorFactory


@pytest.mark.asyncio(loop_scope="module")
async def test_good_credentials_get_a_28_character_token_with_expires_in_as_a_string(
    shared_simulator: RunningSimulator,
) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        answer = await client.get(TOKEN_PATH, headers=basic())
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == "3599"
    assert len(body["access_token"]) == 28
    assert set(body["access_token"]) <= set(string.ascii_letters + string.digits)


@pytest.mark.asyncio(loop_scope="module")
async def test_wrong_secret_gets_http_400_with_an_empty_body(shared_simulator: RunningSimulator) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        wrong_secret = await client.get(TOKEN_PATH, headers=basic(SIM_CONSUMER_KEY, "nope"))
        not_base64 = await client.get(TOKEN_PATH, headers={"Authorization": "Basic %%%"})
    for answer in (wrong_secret, not_base64):
        assert answer.status_code == 400
        assert answer.content == b""


@pytest.mark.asyncio(loop_scope="module")
async def test_missing_or_non_basic_authorization_is_400_008_01(shared_simulator: RunningSimulator) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        missing = await client.get(TOKEN_PATH)
        bearer = await client.get(TOKEN_PATH, headers={"Authorization": "Bearer abc"})
    for answer in (missing, bearer):
        assert_daraja_error(answer, 400, "400.008.01", "Invalid authentication type passed")


@pytest.mark.asyncio(loop_scope="module")
async def test_wrong_or_whitespace_padded_grant_type_is_400_008_02(
    shared_simulator: RunningSimulator,
) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        wrong = await client.get("/oauth/v1/generate?grant_type=password", headers=basic())
        padded = await client.get("/oauth/v1/generate?grant_type=client_credentials%20", headers=basic())
        missing = await client.get("/oauth/v1/generate", headers=basic())
    for answer in (wrong, padded, missing):
        assert_daraja_error(answer, 400, "400.008.02", "Invalid grant type passed")


async def test_a_token_is_refused_with_404_001_03_once_its_lifetime_has_passed(
    simulator_factory: SimulatorFactory,
) -> None:
    clock = FakeClock()
    sim = await simulator_factory(clock=clock, token_lifetime_s=60)
    async with daraja_client(sim.base_url) as client:
        answer = await client.get(TOKEN_PATH, headers=basic())
        assert answer.json()["expires_in"] == "60"
        access_token = answer.json()["access_token"]
        clock.advance(59)
        assert (await push(client, access_token)).status_code == 200
        clock.advance(1)
        assert_daraja_error(await push(client, access_token), 404, "404.001.03", "Invalid Access Token")


@pytest.mark.asyncio(loop_scope="module")
async def test_missing_and_unknown_bearer_tokens_are_404_001_03(shared_simulator: RunningSimulator) -> None:
    async with daraja_client(shared_simulator.base_url) as client:
        unknown = await push(client, "x" * 28)
        missing = await client.post("/mpesa/stkpush/v1/processrequest", json={})
        basic_instead = await client.post("/mpesa/stkpushquery/v1/query", json={}, headers=basic())
    for answer in (unknown, missing, basic_instead):
        assert_daraja_error(answer, 404, "404.001.03", "Invalid Access Token")


async def test_tokens_stay_valid_side_by_side_unless_each_new_token_invalidates_the_previous(
    simulator_factory: SimulatorFactory,
) -> None:
    side_by_side = await simulator_factory()
    invalidating = await simulator_factory(token_invalidates_previous=True)
    async with daraja_client(side_by_side.base_url) as client:
        first, second = await token(client), await token(client)
        assert (await push(client, first)).status_code == 200
        assert (await push(client, second)).status_code == 200
    async with daraja_client(invalidating.base_url) as client:
        first, second = await token(client), await token(client)
        assert_daraja_error(await push(client, first), 404, "404.001.03", "Invalid Access Token")
        assert (await push(client, second)).status_code == 200


async def test_the_tills_own_consumer_key_from_the_environment_replaces_the_demo_pair(
    simulator_factory: SimulatorFactory,
) -> None:
    settings = SimulatorSettings.from_env(
        {"MPESA_CONSUMER_KEY": "shop-key", "MPESA_CONSUMER_SECRET": "shop-secret"}
    )
    assert (settings.consumer_key, settings.consumer_secret) == ("shop-key", "shop-secret")
    demo = SimulatorSettings.from_env({"MPESA_CONSUMER_KEY": "only-a-key"})
    assert (demo.consumer_key, demo.consumer_secret) == (SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET)
    sim = await simulator_factory(consumer_key="shop-key", consumer_secret="shop-secret")
    async with daraja_client(sim.base_url) as client:
        assert (await client.get(TOKEN_PATH, headers=basic("shop-key", "shop-secret"))).status_code == 200
        assert (await client.get(TOKEN_PATH, headers=basic())).content == b""


def test_basic_helper_encodes_key_colon_secret() -> None:
    header = basic("a", "b")["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")) == b"a:b"
