"""Embedded mode: the relay inside the till on loopback, exposed through an ngrok tunnel. Only the ngrok
agent is replaced (pyngrok's connect, or a stand-in agent binary), per docs/stack-notes.md "pyngrok without
the internet"; the relay is real."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from daraja_core.simulator.settings import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET
from pos_app.config import TillConfig
from pos_app.embedded_relay import Tunnel, TunnelError
from pos_app.engine.connections import QUERY_ONLY_CALLBACK_URL
from pos_app.engine.service import TillService
from pos_app.engine.views import AlertCode
from tests.engine.conftest import FAST, settle
from tests.support.simulator_fixtures import RunningSimulator


@dataclass
class FakeTunnel:
    public_url: str


@pytest.fixture(autouse=True)
def ngrok_config_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def embedded_config(tmp_path: Path, simulator: RunningSimulator, **changes: Any) -> TillConfig:
    return TillConfig(
        mode="embedded",
        home=tmp_path / "till",
        consumer_key=SIM_CONSUMER_KEY,
        consumer_secret=SIM_CONSUMER_SECRET,
        shortcode=SANDBOX_SHORTCODE,
        passkey=SANDBOX_PASSKEY,
        api_base_url=simulator.base_url,
        ngrok_authtoken="test-token",
        timings=FAST,
        **changes,
    )


async def test_the_tunnels_https_address_becomes_the_callback_url(
    tmp_path: Path, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    def connect(port: str, proto: str, **options: Any) -> FakeTunnel:
        calls.append((port, proto, options["pyngrok_config"].auth_token))
        return FakeTunnel("https://till-1234.ngrok-free.app")

    monkeypatch.setattr("pyngrok.ngrok.connect", connect)
    monkeypatch.setattr("pyngrok.ngrok.disconnect", lambda *a, **k: None)
    till = await TillService.open(embedded_config(tmp_path, simulator))
    try:
        assert till.callback_url.startswith("https://till-1234.ngrok-free.app/api/v1/callbacks/stk/")
        assert calls and calls[0][1] == "http" and calls[0][2] == "test-token"
        assert till.status().mode == "embedded"
        assert till.relay is not None and till.relay.base_url.startswith("http://127.0.0.1:")
    finally:
        await till.close()


async def test_a_tunnel_that_cannot_start_gives_a_clear_message_and_query_only_payments(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    # The real pyngrok, pointed at an ngrok agent that cannot run (no download happens).
    bogus_agent = tmp_path / "ngrok"
    bogus_agent.write_text("#!/bin/sh\nexit 1\n")
    bogus_agent.chmod(0o755)
    config = embedded_config(tmp_path, simulator)
    tunnel = Tunnel("test-token", ngrok_path=str(bogus_agent))
    with pytest.raises(TunnelError, match="STK Query"):
        await tunnel.open(8080)

    import pos_app.embedded_relay as embedded

    original = embedded.Tunnel

    class BrokenAgentTunnel(original):  # type: ignore[misc, valid-type]
        def __init__(self, authtoken: str, **_: Any) -> None:
            super().__init__(authtoken, ngrok_path=str(bogus_agent))

    embedded.Tunnel = BrokenAgentTunnel  # type: ignore[misc]
    try:
        till = await TillService.open(config)
    finally:
        embedded.Tunnel = original  # type: ignore[misc]
    try:
        status = till.status()
        assert status.mode == "query_only"
        (tunnel,) = [alert for alert in status.alerts if alert.code == AlertCode.TUNNEL_FAILED]
        assert "ngrok" in tunnel.message and "STK Query" in tunnel.message
        assert till.callback_url == QUERY_ONLY_CALLBACK_URL
        view = await till.charge(10, "0711000005")
        final = await settle(till, view.attempt_id)
        assert final.state == "paid" and final.method == "stk_query"
        assert "tunnel_failed" in {f.code for f in await till.diagnostics()}
    finally:
        await till.close()


async def test_a_refused_ngrok_token_never_reaches_the_message_or_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The ngrok agent's answer to a bad token quotes it back ("Your authtoken: …"); pyngrok puts that
    # line in its exception, and the till shows and logs the exception's text.
    token = "2abcSECRETngrokTOKEN_xyz"
    agent = tmp_path / "ngrok"
    agent.write_text(
        "#!/bin/sh\n"
        'echo \'t=2026-11-22T01:00:00+0300 lvl=eror msg="failed to auth" '
        f'err="authentication failed: The authtoken you specified is invalid. Your authtoken: {token}"\'\n'
        "exit 1\n"
    )
    agent.chmod(0o755)
    tunnel = Tunnel(token, ngrok_path=str(agent))
    with caplog.at_level("DEBUG", logger="pos_app"), pytest.raises(TunnelError) as raised:
        await tunnel.open(8080)
    assert "authentication failed" in str(raised.value)
    assert token not in str(raised.value)
    assert token not in caplog.text
