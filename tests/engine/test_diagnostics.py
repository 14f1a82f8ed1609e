"""Diagnostics: the callback URL rules (pure) and the network checks against the real relay and simulator."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pos_app.config import TillConfig
from pos_app.engine import diagnostics as diag
from pos_app.engine.relay_client import RelayClient
from tests.engine.conftest import Rig


def codes(findings: list[diag.Finding]) -> set[str]:
    return {f.code for f in findings}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://relay.example.com/api/v1/callbacks/stk/abc", {"callback_not_https"}),
        ("https://localhost/api/v1/callbacks/stk/abc", {"callback_localhost"}),
        ("https://127.0.0.1:8000/cb", {"callback_localhost"}),
        ("https://192.168.1.20/cb", {"callback_private_address"}),
        ("https://10.0.0.5/cb", {"callback_private_address"}),
        ("https://till.local/cb", {"callback_private_address"}),
        # Carrier-grade NAT / Tailscale (100.64.0.0/10): not private to ipaddress, but not on the internet.
        ("https://100.101.102.103/cb", {"callback_private_address"}),
        ("https://3.4.5.6/api/v1/callbacks/stk/abc", set()),
        ("https://relay.example.com/api/v1/payments/mpesa/callback", {"callback_forbidden_word"}),
        ("https://safaricom-relay.example.com/cb", {"callback_forbidden_word"}),
        ("https://relay.example.com/query", {"callback_forbidden_word"}),
        ("https://relay.example.com/cmd/exec", {"callback_forbidden_word"}),
        ("https://abc.ngrok-free.app/api/v1/callbacks/stk/abc", {"callback_tunnel_host"}),
        ("https://relay.example.com/api/v1/callbacks/stk/abc", set()),
    ],
)
def test_callback_url_rules_name_each_problem(url: str, expected: set[str]) -> None:
    findings = diag.callback_url_findings(url)
    assert codes(findings) == expected
    assert all(f.fix for f in findings)


def test_a_forbidden_word_finding_names_the_word() -> None:
    (finding,) = diag.callback_url_findings("https://relay.example.com/api/v1/payments/mpesa/callback")
    assert "'mpesa'" in finding.message


def test_missing_variables_are_listed_one_by_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = TillConfig(
        mode="remote", home=tmp_path, consumer_key="k", transaction_type="CustomerBuyGoodsOnline"
    )
    missing = {f.message.split()[0] for f in diag.missing_variables(config)}
    assert missing == {
        "MPESA_CONSUMER_SECRET",
        "MPESA_SHORTCODE",
        "MPESA_PASSKEY",
        "MPESA_RELAY_URL",
        "MPESA_RELAY_KEY",
        "MPESA_TILL_NUMBER",
    }


async def test_a_healthy_setup_passes_every_network_check(rig: Rig) -> None:
    till = await rig.open()
    findings = await till.diagnostics()
    assert {"daraja_ok", "relay_ok", "callback_ok"} <= codes(findings)
    # The test relay is on loopback http, which Safaricom could not reach: diagnostics says so.
    assert "callback_not_https" in codes(findings)


async def test_refused_credentials_and_a_relay_that_is_down_are_reported(rig: Rig) -> None:
    till = await rig.open(consumer_secret="wrong-secret", callback_url=rig.callback_url)
    till.relay = RelayClient("http://127.0.0.1:9", "k", httpx.AsyncClient(), timeout_s=1)
    findings = await till.diagnostics()
    assert {"credentials_refused", "relay_down"} <= codes(findings)
    assert all(f.severity == "error" for f in findings if f.code in ("credentials_refused", "relay_down"))


async def test_a_callback_url_that_does_not_lead_to_this_tills_relay_is_reported(rig: Rig) -> None:
    _other_key, other_path = await rig.relay.create_till("someone-else")
    till = await rig.open(callback_url=rig.relay.base_url + other_path)
    findings = await till.diagnostics()
    assert "callback_not_at_relay" in codes(findings)


async def test_clock_skew_against_the_relays_date_header_is_reported(rig: Rig) -> None:
    async with httpx.AsyncClient() as http:
        relay = RelayClient(rig.relay.base_url, rig.relay_key, http)
        ahead = await diag.check_relay(relay, lambda: datetime.now(UTC) + timedelta(minutes=5))
        on_time = await diag.check_relay(relay, lambda: datetime.now(UTC))
    assert "clock_skew" in codes(ahead) and "ahead" in next(
        f.message for f in ahead if f.code == "clock_skew"
    )
    assert "clock_skew" not in codes(on_time)


def test_demo_mode_needs_no_variables(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert diag.missing_variables(replace(TillConfig(home=tmp_path), mode="demo")) == []


async def test_a_callback_url_whose_proxy_fails_is_not_called_the_wrong_address(rig: Rig) -> None:
    # A reverse proxy (or tunnel) in front of the relay answers 502 while the relay is down: the address
    # may be exactly right, so "point MPESA_CALLBACK_URL elsewhere" would send the owner the wrong way.
    from daraja_core.serve import serving

    async def bad_gateway(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 502, "headers": []})
        await send({"type": "http.response.body", "body": b"Bad Gateway"})

    async with serving(bad_gateway) as proxy:
        till = await rig.open(callback_url=proxy.base_url + rig.callback_path)
        findings = await till.diagnostics()
    finding = next(f for f in findings if f.code == "callback_unreachable")
    assert "502" in finding.message
    assert "Point MPESA_CALLBACK_URL" not in finding.fix
    assert "relay" in finding.fix and "proxy" in finding.fix


def test_the_tills_own_stand_in_callback_url_keeps_the_rules_it_checks_others_by() -> None:
    # Query-only mode still sends a CallBackURL; one with a word Safaricom rejects ("query") could get
    # every push refused as `Invalid CallBackURL` (docs/daraja.md §5).
    from pos_app.engine.connections import QUERY_ONLY_CALLBACK_URL

    assert codes(diag.callback_url_findings(QUERY_ONLY_CALLBACK_URL)) == set()
