"""The till's connections: Daraja (the real API, or the simulator in demo mode) and the relay (remote,
embedded with an ngrok tunnel, or none), and the callback URL Daraja is given for results.

Everything `connect` starts is closed by the exit stack it is given, in reverse order: the till's own
relay connections first, then the tunnel, the embedded relay, the simulator, and the Daraja connections.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from pos_app.config import TillConfig
from pos_app.daraja import DarajaClient, DarajaConfig
from pos_app.engine.relay_client import RelayClient, RelayError
from pos_app.store.db import Store

if TYPE_CHECKING:
    from daraja_core.serve import BackgroundServer
    from pos_app.embedded_relay import EmbeddedRelayHost

log = logging.getLogger(__name__)

#: Daraja is told to call back here when the till has no callback URL at all (query-only): docs/daraja.md
#: §2 notes `https://example.invalid/...` is accepted; the result then comes from STK Query alone.
QUERY_ONLY_CALLBACK_URL = "https://example.invalid/api/v1/callbacks/stk/no-relay"


def loopback_friendly_client(**options: Any) -> httpx.AsyncClient:
    # TCP_NODELAY: a long-poll answer or a small POST is not held back by Nagle's algorithm (~40 ms).
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        # Idle connections are dropped after 2 s, before uvicorn closes them (5 s, the relay's server):
        # a request sent on a connection in the moment the server closes it fails with a ReadError
        # (seen in tests/relay/test_http_loopback.py under load).
        limits=httpx.Limits(max_connections=500, max_keepalive_connections=100, keepalive_expiry=2.0),
    )
    return httpx.AsyncClient(transport=transport, trust_env=False, **options)


@dataclass
class Connections:
    """What `connect` opened. `mode` is the configured one, or "query_only" when the tunnel failed;
    `callback_url` is empty until `resolve_callback_url` found one; `tunnel_error` says why the tunnel
    failed, if it did."""

    mode: str
    daraja: DarajaClient
    relay: RelayClient | None
    relay_http: httpx.AsyncClient
    callback_url: str
    simulator: BackgroundServer | None
    tunnel_error: str | None


async def _quietly(stop: Callable[[], Awaitable[None]]) -> None:
    with contextlib.suppress(Exception):
        await stop()


async def connect(config: TillConfig, stack: contextlib.AsyncExitStack) -> Connections:
    daraja_http = loopback_friendly_client(
        timeout=httpx.Timeout(config.timings.daraja_timeout_s, connect=10.0)
    )
    stack.push_async_callback(daraja_http.aclose)
    simulator: BackgroundServer | None = None
    daraja_base = config.api_base_url or None
    if config.demo:
        simulator = await _start_simulator(stack)
        daraja_base = simulator.base_url
    mode = config.mode
    relay: RelayClient | None = None
    callback_url = ""
    tunnel_error: str | None = None
    if config.mode in ("demo", "embedded"):
        from pos_app.embedded_relay import EmbeddedRelayHost, Tunnel, TunnelError

        host = EmbeddedRelayHost(config.relay_database_path, config.relay_key_file)
        await host.start()
        stack.push_async_callback(_quietly, host.stop)
        if config.demo:
            callback_url = host.base_url + host.callback_path
            assert simulator is not None  # started above in demo mode
            await _open_demo_shop(host, daraja_http, simulator.base_url, config.shortcode)
        elif not config.callback_url:
            tunnel = Tunnel(config.ngrok_authtoken)
            try:
                public = await tunnel.open(host.port)
            except TunnelError as error:
                mode = "query_only"
                tunnel_error = str(error)
                log.warning("%s", error)
            else:
                stack.push_async_callback(tunnel.close)
                callback_url = public + host.callback_path
        relay_http = _relay_http(stack)  # our connections close first, so the relay has less to wait for
        relay = RelayClient(
            host.base_url, host.till_key, relay_http, timeout_s=config.timings.relay_timeout_s
        )
    else:
        relay_http = _relay_http(stack)
        if config.mode == "remote":
            relay = RelayClient(
                config.relay_url, config.relay_key, relay_http, timeout_s=config.timings.relay_timeout_s
            )
    daraja = DarajaClient(
        DarajaConfig(
            consumer_key=config.consumer_key,
            consumer_secret=config.consumer_secret,
            shortcode=config.shortcode,
            passkey=config.passkey,
            transaction_type=config.transaction_type,
            till_number=config.till_number or None,
            environment=config.environment,
            base_url_override=daraja_base,
            max_amount_kes=config.max_amount_kes,
        ),
        daraja_http,
    )
    return Connections(mode, daraja, relay, relay_http, callback_url, simulator, tunnel_error)


def _relay_http(stack: contextlib.AsyncExitStack) -> httpx.AsyncClient:
    client = loopback_friendly_client()
    stack.push_async_callback(client.aclose)
    return client


async def _open_demo_shop(
    host: EmbeddedRelayHost, http: httpx.AsyncClient, simulator_url: str, shortcode: str
) -> None:
    """The demo paybill's C2B payments reach this till (pos_app/engine/demo_customer.py); without them the
    demo still takes STK payments, so a failure here is logged, never fatal."""
    from pos_app.engine.demo_customer import DEMO_SHOP, register_demo_shop

    try:
        confirmation, validation = await host.c2b_urls(DEMO_SHOP, shortcode)
        await register_demo_shop(http, simulator_url, shortcode, confirmation, validation)
    except Exception:
        log.warning("demo: payments to the paybill will not reach this till", exc_info=True)


async def _start_simulator(stack: contextlib.AsyncExitStack) -> BackgroundServer:
    from daraja_core.serve import BackgroundServer
    from daraja_core.simulator import SimulatorSettings, create_app

    server = BackgroundServer(create_app(SimulatorSettings()), timeout_graceful_shutdown=1)
    await server.start()
    stack.push_async_callback(_quietly, server.stop)
    log.info("demo: Daraja simulator on %s", server.base_url)
    return server


async def resolve_callback_url(
    config: TillConfig,
    mode: str,
    relay: RelayClient | None,
    store: Store,
    now: Callable[[], datetime],
    on_reachable: Callable[[bool], None],
) -> str:
    """The configured callback URL, else the remote relay's (its path cached in the store for a start
    while the relay is down), else the query-only placeholder; "" when a remote relay was never reached."""
    if config.callback_url:
        return config.callback_url
    if relay is not None and mode == "remote":
        cached = await store.get_setting("relay_callback_path")
        try:
            _name, path = await relay.till_info()
        except RelayError as error:
            log.warning("relay not reachable at start (%s)", error)
            on_reachable(False)
            path = cached or ""
        else:
            on_reachable(True)
            if path != cached:
                await store.set_settings({"relay_callback_path": path}, now(), None)
        if path:
            return config.relay_url.rstrip("/") + path
    if mode in ("query_only", "embedded"):
        return QUERY_ONLY_CALLBACK_URL
    return ""
