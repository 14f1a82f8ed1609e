"""The simulator's log (no phones in full, no secrets), reset, shutdown, and the `mpesa-sim` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from daraja_core.password import SANDBOX_PASSKEY
from daraja_core.serve import serving
from daraja_core.simulator import DEMO_NOTICE, SimulatorSettings, create_app
from daraja_core.simulator.cli import main, serve_parser, settings_from_args
from tests.simulator.daraja_calls import TOKEN_PATH, basic, daraja_client, push, query, token
from tests.support.simulator_fixtures import CallbackSink, RunningSimulator, SimulatorFactory

PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"


async def test_the_log_lists_every_request_with_its_outcome_a_masked_phone_and_no_secrets(
    simulator: RunningSimulator, callback_sink: CallbackSink
) -> None:
    async with daraja_client(simulator.base_url) as client:
        access_token = await token(client)
        accepted = await push(client, access_token, callback_url=callback_sink.url)
        await push(client, access_token, Amount="1.5")
        await query(client, access_token, accepted.json()["CheckoutRequestID"])
        await client.get(TOKEN_PATH, headers=basic(simulator.settings.consumer_key, "wrong"))
    await callback_sink.wait_for(1)
    log = await simulator.log()
    assert log["notice"] == DEMO_NOTICE == "SIMULATOR — no real money"
    summary = [(e["method"], e["path"], e["status"], e["phone"], e["outcome"]) for e in log["requests"]]
    assert summary == [
        ("GET", "/oauth/v1/generate", 200, None, "token issued"),
        ("POST", PUSH, 200, "2547*****149", "accepted (paid, 0)"),
        ("POST", PUSH, 400, "2547*****149", "400 400.002.02 Bad Request - Invalid Amount"),
        ("POST", QUERY, 200, "2547*****149", "ResultCode 4999"),
        ("GET", "/oauth/v1/generate", 400, None, "400 bad credentials (empty body)"),
    ]
    assert log["requests"][1]["checkout_request_id"] == accepted.json()["CheckoutRequestID"]
    for entry in log["requests"]:
        datetime.fromisoformat(entry["time"])
    text = json.dumps(log)
    for secret in (
        access_token,
        simulator.settings.consumer_secret,
        SANDBOX_PASSKEY,
        "254708374149",
        "wrong",
    ):
        assert secret not in text


async def test_every_callback_sent_is_logged_with_its_url_body_and_http_status(
    simulator: RunningSimulator, callback_sink: CallbackSink
) -> None:
    async with daraja_client(simulator.base_url) as client:
        accepted = await push(client, await token(client), callback_url=callback_sink.url)
    await callback_sink.wait_for(1)
    [entry] = (await simulator.log_with_callbacks(1))["callbacks"]
    assert entry["url"] == callback_sink.url
    assert entry["status"] == 200 and entry["error"] is None
    assert entry["checkout_request_id"] == accepted.json()["CheckoutRequestID"]
    body = entry["body"]["Body"]["stkCallback"]
    assert body["ResultCode"] == 0
    assert body["CallbackMetadata"]["Item"][4] == {"Name": "PhoneNumber", "Value": "2547*****149"}
    datetime.fromisoformat(entry["time"])


async def test_a_secret_token_in_the_callback_path_reaches_the_receiver_but_not_the_log(
    simulator: RunningSimulator, callback_sink: CallbackSink
) -> None:
    till_token = "tk_9f8e7d6c5b4a39281706f5e4"
    url = callback_sink.url_for(f"api/v1/callbacks/stk/{till_token}?sig=abc")
    async with daraja_client(simulator.base_url) as client:
        await push(client, await token(client), callback_url=url)
    [callback] = await callback_sink.wait_for(1)
    assert callback.path.endswith(till_token)
    [entry] = (await simulator.log_with_callbacks(1))["callbacks"]
    assert till_token not in json.dumps(entry) and "sig=abc" not in entry["url"]
    assert entry["url"].endswith("/api/v1/callbacks/stk/tk_9…")


async def test_reset_forgets_pushes_pending_callbacks_and_the_log_but_tokens_stay_valid(
    simulator_factory: SimulatorFactory, callback_sink: CallbackSink
) -> None:
    sim = await simulator_factory(callback_delay_s=0.5)
    async with daraja_client(sim.base_url) as client:
        access_token = await token(client)
        checkout_id = (await push(client, access_token, callback_url=callback_sink.url)).json()[
            "CheckoutRequestID"
        ]
        await sim.reset()
        assert (await sim.log())["requests"] == []
        assert (await query(client, access_token, checkout_id)).status_code == 500
        # A push after the reset falls due after the forgotten one would have: once its callback is in,
        # the forgotten one would be too.
        later = (await push(client, access_token, callback_url=callback_sink.url)).json()["CheckoutRequestID"]
        await callback_sink.wait_for_checkout(later)
    assert callback_sink.for_checkout(checkout_id) == []
    assert len(callback_sink.received) == 1


async def test_stopping_the_simulator_cancels_its_scheduled_callbacks_at_once(
    callback_sink: CallbackSink,
) -> None:
    app = create_app(SimulatorSettings(callback_delay_s=30))
    # Stopping does not wait out the 30 s callback delay.
    async with asyncio.timeout(15):
        async with serving(app) as server, daraja_client(server.base_url) as client:
            await push(client, await token(client), callback_url=callback_sink.url)
            assert app.state.simulator.pending_callbacks == 1
    assert app.state.simulator.pending_callbacks == 0
    assert callback_sink.received == []


async def test_mpesa_sim_log_prints_the_log_as_text_or_json(
    simulator: RunningSimulator, callback_sink: CallbackSink, capsys: pytest.CaptureFixture[str]
) -> None:
    async with daraja_client(simulator.base_url) as client:
        await push(client, await token(client), phone="254711000001", callback_url=callback_sink.url)
    await callback_sink.wait_for(1)
    await simulator.log_with_callbacks(1)
    assert await asyncio.to_thread(main, ["log", "--url", simulator.base_url]) == 0
    text = capsys.readouterr().out
    assert text.startswith(DEMO_NOTICE)
    assert f"POST {PUSH} 2547*****001  → accepted (cancelled, 1032)" in text
    assert f"ResultCode 1032 → {callback_sink.url}  HTTP 200" in text
    assert await asyncio.to_thread(main, ["log", "--url", simulator.base_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == await simulator.log()


async def test_mpesa_sim_log_explains_when_no_simulator_answers(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{placeholder.getsockname()[1]}"
    assert await asyncio.to_thread(main, ["log", "--url", url]) == 1
    assert f"cannot read the log at {url}" in capsys.readouterr().err


def test_command_line_options_and_the_environment_become_the_settings() -> None:
    args = serve_parser().parse_args(
        [
            "--callback-delay",
            "1.5",
            "--unreachable-delay",
            "9",
            "--push-response-delay",
            "40",
            "--min-query-interval",
            "3",
            "--token-lifetime",
            "120",
            "--token-invalidates-previous",
            "--shortcode",
            "600984=shop-passkey",
        ]
    )
    settings = settings_from_args(args, {"MPESA_CONSUMER_KEY": "k", "MPESA_CONSUMER_SECRET": "s"})
    assert (settings.consumer_key, settings.consumer_secret) == ("k", "s")
    assert (settings.callback_delay_s, settings.unreachable_delay_s, settings.push_response_delay_s) == (
        1.5,
        9,
        40,
    )
    assert (settings.min_query_interval_s, settings.token_lifetime_s) == (3, 120)
    assert settings.token_invalidates_previous
    assert settings.all_shortcodes() == {"600984": "shop-passkey", "174379": SANDBOX_PASSKEY}
    defaults = settings_from_args(serve_parser().parse_args([]), {})
    assert defaults == SimulatorSettings()
    with pytest.raises(SystemExit):
        serve_parser().parse_args(["--shortcode", "600984"])


async def test_the_installed_mpesa_sim_command_serves_the_simulator_on_the_given_port() -> None:
    command = Path(sys.executable).parent / "mpesa-sim"
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPESA_")}
    process = await asyncio.create_subprocess_exec(
        str(command),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    try:
        async with daraja_client(f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                with contextlib.suppress(httpx.ConnectError):
                    answer = await client.get(TOKEN_PATH, headers=basic())
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("mpesa-sim did not start listening")
        assert answer.status_code == 200 and answer.json()["expires_in"] == "3599"
    finally:
        process.terminate()
        output = (await asyncio.wait_for(process.communicate(), timeout=10))[0].decode()
    assert f"{DEMO_NOTICE}: Daraja simulator on http://127.0.0.1:{port}" in output
    assert "demo-consumer-key" in output and "demo-consumer-secret" in output
