"""Diagnostics: what is wrong with this till's set-up, one Finding per problem, each with a fix.
Pure checks on the configuration first; the network checks take their clients as arguments so tests run
them against the real relay and simulator.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx

from daraja_core.contract import SELFTEST_PREFIX
from pos_app.config import TillConfig
from pos_app.daraja import AuthenticationFailed, DarajaClient, DarajaError
from pos_app.engine.connections import QUERY_ONLY_CALLBACK_URL
from pos_app.engine.relay_client import RelayClient, RelayError, RelayRefused
from pos_app.engine.views import Finding
from pos_app.store.db import Store

log = logging.getLogger(__name__)

#: Words Safaricom rejects in URLs (docs/daraja.md §5, from the C2B register-URL rules).
FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exec", "exe", "cmd", "sql", "query")
#: Tunnel hosts docs/daraja.md §5 says are "usually blocked".
TUNNEL_HOST_SUFFIXES = (
    "ngrok.io",
    "ngrok-free.app",
    "ngrok.app",
    "ngrok.dev",
    "mockbin.org",
    "requestbin.com",
)
CLOCK_SKEW_LIMIT_S = 60.0


def missing_variables(config: TillConfig) -> list[Finding]:
    findings: list[Finding] = []
    if config.mode == "demo":
        return findings
    required = {
        "MPESA_CONSUMER_KEY": config.consumer_key,
        "MPESA_CONSUMER_SECRET": config.consumer_secret,
        "MPESA_SHORTCODE": config.shortcode,
        "MPESA_PASSKEY": config.passkey,
    }
    if config.mode == "remote":
        required["MPESA_RELAY_URL"] = config.relay_url
        required["MPESA_RELAY_KEY"] = config.relay_key
    if config.mode == "embedded" and not config.callback_url:
        required["NGROK_AUTHTOKEN"] = config.ngrok_authtoken
    if config.transaction_type == "CustomerBuyGoodsOnline":
        required["MPESA_TILL_NUMBER"] = config.till_number
    for name, value in required.items():
        if not value:
            findings.append(
                Finding(
                    code="missing_variable",
                    severity="error",
                    message=f"{name} is not set.",
                    fix=f"Set {name} in Settings, in the .env file or in the environment.",
                )
            )
    if config.mode == "query_only" and not config.callback_url:
        findings.append(
            Finding(
                code="no_callback_url",
                severity="warning",
                message="No relay and no MPESA_CALLBACK_URL: payments are confirmed by STK Query only, "
                "without receipt numbers.",
                fix="Set MPESA_RELAY_URL and MPESA_RELAY_KEY, or NGROK_AUTHTOKEN for the embedded relay.",
            )
        )
    return findings


def callback_url_findings(
    url: str,
    *,
    name: str = "callback URL",
    code: str = "callback",
    path: str = "/api/v1/callbacks/stk/<token>",
) -> list[Finding]:
    """Daraja's rules for a CallBackURL (docs/daraja.md §2 "CallBackURL", §5 "URL rules"); the C2B URLs
    follow the same rules (§5, §6), named by `name` with codes `<code>_…`."""
    findings: list[Finding] = []
    if not url:
        return findings
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if url != url.strip() or any(ch.isspace() for ch in url):
        findings.append(
            Finding(f"{code}_url_spaces", "error", f"The {name} contains spaces.", "Remove the spaces.")
        )
    if parts.scheme != "https":
        findings.append(
            Finding(
                f"{code}_not_https",
                "error",
                f"The {name} is not HTTPS ({parts.scheme or 'no scheme'}); "
                "Safaricom posts to public HTTPS only.",
                "Use the relay's https:// address (a host with TLS) or the embedded relay with ngrok.",
            )
        )
    if host in ("localhost", "") or host.endswith(".localhost"):
        findings.append(
            Finding(
                f"{code}_localhost",
                "error",
                f"The {name} points at {host or 'no host'}: Safaricom cannot reach this machine.",
                "Use the relay's public address.",
            )
        )
    else:
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            if host.endswith((".local", ".lan", ".internal", ".home")):
                findings.append(
                    Finding(
                        f"{code}_private_address",
                        "error",
                        f"The {name} host {host} is a local network name.",
                        "Use the relay's public address.",
                    )
                )
        else:
            if address.is_loopback:
                findings.append(
                    Finding(
                        f"{code}_localhost",
                        "error",
                        f"The {name} points at {host}, this machine.",
                        "Use the relay's public address.",
                    )
                )
            elif (
                address.is_private
                or address.is_link_local
                or address.is_reserved
                or address.is_unspecified
                or not address.is_global  # e.g. 100.64.0.0/10, carrier-grade NAT and Tailscale
            ):
                findings.append(
                    Finding(
                        f"{code}_private_address",
                        "error",
                        f"The {name} points at a private address ({host}) Safaricom cannot reach.",
                        "Use the relay's public address.",
                    )
                )
    lowered = url.lower()
    words = [word for word in FORBIDDEN_URL_WORDS if word in lowered]
    if "exec" in words and "exe" in words:
        words.remove("exe")
    if "m-pesa" in words and "mpesa" in words:
        words.remove("mpesa")
    if words:
        findings.append(
            Finding(
                f"{code}_forbidden_word",
                "error",
                f"The {name} contains {', '.join(repr(w) for w in words)}, which Safaricom rejects in URLs.",
                f"Use the relay's tokenised path {path} and a host name without these words.",
            )
        )
    if host.endswith(TUNNEL_HOST_SUFFIXES):
        findings.append(
            Finding(
                f"{code}_tunnel_host",
                "warning",
                f"The {name} is on a tunnel host ({host}); Safaricom is reported to block some of these.",
                "Fine for trials; use a relay on your own domain in production.",
            )
        )
    return findings


def paid_after_cash_findings(count: int) -> list[Finding]:
    """Sales paid in cash that a late M-Pesa payment paid as well (cash.py): the owner refunds one."""
    if not count:
        return []
    return [
        Finding(
            "paid_after_cash",
            "warning",
            f"{count} sale(s) paid in cash were paid by M-Pesa too.",
            "Find them in the Day report under To review: refund the M-Pesa payment or give the cash back.",
        )
    ]


async def check_daraja(daraja: DarajaClient) -> Finding:
    try:
        await daraja.access_token()
    except AuthenticationFailed:
        return Finding(
            "credentials_refused",
            "error",
            "Daraja refused the consumer key and secret.",
            "Copy MPESA_CONSUMER_KEY and MPESA_CONSUMER_SECRET again from the Daraja portal, and check "
            "MPESA_ENVIRONMENT (sandbox keys do not work in production).",
        )
    except DarajaError as error:
        return Finding(
            "daraja_unreachable",
            "warning",
            f"Daraja did not answer: {error}",
            "Check the internet connection; payments cannot start until Daraja answers.",
        )
    return Finding("daraja_ok", "ok", "Daraja accepted the credentials.", "")


async def check_relay(relay: RelayClient, now: Callable[[], datetime]) -> list[Finding]:
    findings: list[Finding] = []
    try:
        health = await relay.health()
    except RelayError as error:
        return [
            Finding(
                "relay_down",
                "error",
                f"The relay at {relay.base_url} does not answer ({error}).",
                "Check MPESA_RELAY_URL and that the relay is running (mpesa-relay doctor on its host). "
                "Payments still settle by STK Query meanwhile.",
            )
        ]
    if not health.ok:
        findings.append(
            Finding(
                "relay_unhealthy",
                "error",
                "The relay answers but reports a problem.",
                "Run mpesa-relay doctor.",
            )
        )
    try:
        await relay.till_info()
    except RelayRefused:
        findings.append(
            Finding(
                "relay_key_refused",
                "error",
                "The relay refused this till's key.",
                "Create a key with `mpesa-relay create-till-key NAME` and set MPESA_RELAY_KEY.",
            )
        )
    except RelayError as error:
        findings.append(
            Finding(
                "relay_down", "error", f"The relay's till API failed ({error}).", "Run mpesa-relay doctor."
            )
        )
    else:
        findings.append(
            Finding("relay_ok", "ok", f"The relay at {relay.base_url} answers and knows this till.", "")
        )
    if health.server_date is not None:
        skew = (now() - health.server_date).total_seconds()
        if abs(skew) > CLOCK_SKEW_LIMIT_S:
            findings.append(
                Finding(
                    "clock_skew",
                    "warning",
                    f"This computer's clock is {abs(skew):.0f} s "
                    f"{'ahead of' if skew > 0 else 'behind'} the relay's.",
                    "Turn on automatic time (NTP): M-Pesa refuses requests stamped with a wrong time.",
                )
            )
    return findings


def selftest_body(checkout_request_id: str) -> dict[str, object]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "SELFTEST",
                "CheckoutRequestID": checkout_request_id,
                "ResultCode": 1032,
                "ResultDesc": "Self-test from the till: not a payment",
            }
        }
    }


async def check_callback_reaches_relay(
    callback_url: str, relay: RelayClient, http: httpx.AsyncClient, *, wait_s: float = 5.0
) -> Finding:
    """POST a self-test callback to the public callback URL and ask the relay whether it arrived."""
    checkout_id = SELFTEST_PREFIX + secrets.token_hex(8)
    try:
        response = await http.post(callback_url, json=selftest_body(checkout_id), timeout=10.0)
    except httpx.HTTPError as error:
        return Finding(
            "callback_unreachable",
            "error",
            f"The callback URL could not be reached ({type(error).__name__}).",
            "Check the address and that the relay (or the tunnel) is up.",
        )
    if response.status_code >= 500:
        # The relay's own 503 (its database is down) or a proxy/tunnel whose upstream is down: the
        # address may be right, and Safaricom's callbacks are lost the same way until it is fixed.
        return Finding(
            "callback_unreachable",
            "error",
            f"The callback URL answered HTTP {response.status_code}: the relay, or the proxy or tunnel "
            "in front of it, is failing.",
            "Check the relay (mpesa-relay doctor on its host) and the proxy or tunnel before it.",
        )
    if response.status_code != 200:
        return Finding(
            "callback_unreachable",
            "error",
            f"The callback URL answered HTTP {response.status_code}.",
            "Point MPESA_CALLBACK_URL at the relay's callback path.",
        )
    loop = asyncio.get_running_loop()
    give_up = loop.time() + wait_s
    while loop.time() < give_up:
        try:
            if await relay.selftest(checkout_id) is not None:
                return Finding(
                    "callback_ok", "ok", "A test callback went through the callback URL to the relay.", ""
                )
        except RelayError as error:
            return Finding("relay_down", "error", f"The relay did not answer the self-test ({error}).", "")
        await asyncio.sleep(0.2)
    return Finding(
        "callback_not_at_relay",
        "error",
        "A test callback sent to the callback URL never reached this till's relay.",
        "The callback URL points somewhere else: use the relay's tokenised callback path for this till.",
    )


async def till_findings(
    config: TillConfig,
    *,
    callback_url: str,
    tunnel_error: str | None,
    store: Store,
    daraja: DarajaClient,
    relay: RelayClient | None,
    relay_http: httpx.AsyncClient,
    now: Callable[[], datetime],
    c2b_findings: Callable[[], Awaitable[list[Finding]]],
) -> list[Finding]:
    """Every check above, in order (`TillService.diagnostics()`, `mpesa-till doctor`): the configuration, then
    Daraja, then the relay; the callback URL's self-test and the C2B URLs only when the relay is up."""
    findings: list[Finding] = list(missing_variables(config))
    if config.demo:
        findings.append(
            Finding("demo_mode", "ok", "Demo mode: the Daraja simulator and a relay on this computer.", "")
        )
    elif config.mode == "remote" or config.callback_url:
        findings.extend(callback_url_findings(callback_url))
    if tunnel_error is not None:
        findings.append(
            Finding("tunnel_failed", "error", tunnel_error, "Check NGROK_AUTHTOKEN and the connection.")
        )
    week_ago = now() - timedelta(days=7)
    findings.extend(paid_after_cash_findings(await store.anomaly_count("paid_after_cash", since=week_ago)))
    findings.append(await check_daraja(daraja))
    if relay is not None:
        relay_findings = await check_relay(relay, now)
        findings.extend(relay_findings)
        if (
            callback_url
            and callback_url != QUERY_ONLY_CALLBACK_URL
            and not any(f.code == "relay_down" for f in relay_findings)
        ):
            findings.append(
                await check_callback_reaches_relay(
                    callback_url, relay, relay_http, wait_s=config.timings.selftest_wait_s
                )
            )
            findings.extend(await c2b_findings())
    return findings
