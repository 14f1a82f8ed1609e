"""Safaricom's side: the two callback paths, as raw ASGI handlers.

Store, then answer 200 Accepted; 413 over the size limit, 503 only when the request could not be stored
(not on disk, so not acknowledged). Raw ASGI because this is the hot path: Litestar's request and response
machinery cost as much as everything else a callback needs (benchmarks/relay_bench.py).
"""

from __future__ import annotations

import logging
import time

from litestar import Litestar, asgi
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send
from sqlalchemy.exc import DBAPIError

from relay.api.bodies import read_body
from relay.intake import IncomingCallback
from relay.service import Relay
from relay.sources import client_address, is_allowed
from relay.writer import database_unavailable

log = logging.getLogger("relay")

ACCEPTED = b'{"ResultCode":0,"ResultDesc":"Accepted"}'
NOT_STORED = b'{"ResultCode":1,"ResultDesc":"Not stored, try again"}'
TOO_LARGE = b'{"ResultCode":1,"ResultDesc":"Body too large"}'
TOO_SLOW = b'{"ResultCode":1,"ResultDesc":"Body took too long"}'
# raw_callback.path and .token lengths (relay/models.py), which PostgreSQL enforces: a longer path can
# only be garbage, and is kept clamped instead of failing to store (and being answered 503). Likewise a
# NUL (PostgreSQL text refuses it) in the decoded token, which is hex when it is real.
PATH_MAX = 300
# The headers kept with a raw callback, each value cut to _HEADER_VALUE_MAX: what tells where a callback
# came from and how it was sent (docs/daraja.md §4: Content-Type, a Businessshortcode header; §5: the
# forwarding headers). Storing every header whole let 2,000 headers of 8 KB per request fill the database.
_STORED_HEADERS = frozenset(
    {
        b"businessshortcode",
        b"content-length",
        b"content-type",
        b"forwarded",
        b"host",
        b"user-agent",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-real-ip",
    }
)
_HEADER_VALUE_MAX = 512


def kept_headers(scope: Scope) -> dict[str, str]:
    """The request headers stored with a raw callback: the allow-listed ones, each value bounded."""
    return {
        name.decode("latin-1"): value[:_HEADER_VALUE_MAX].decode("latin-1")
        for name, value in scope["headers"]
        if name in _STORED_HEADERS
    }


async def answer(send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


def refuse_unstored(relay: Relay, error: Exception, what: str) -> None:
    """A request that could not be stored, about to be refused with 503: noted for /readyz and the alerts,
    and logged (at most one line each REFUSAL_LOG_EVERY_S: relay.service). No traceback for a driver error:
    its chained cause can quote the row, body and phone included (relay.writer); none for a database
    that is away either: the reason says it all."""
    line = relay.storage_failed(error)
    if line is not None:
        traceback = None if isinstance(error, DBAPIError) or database_unavailable(error) else error
        log.error("%s could not be stored, refused with 503: %s", what, line, exc_info=traceback)


async def _take_callback(scope: Scope, receive: Receive, send: Send, token: str | None) -> None:
    if scope.get("method") != "POST":
        # RFC 9110 §15.5.6: a 405 names the methods the resource allows.
        await answer(send, 405, b'{"detail":"POST a callback"}', ((b"allow", b"POST"),))
        return
    relay: Relay = Litestar.from_scope(scope).state.relay
    started = time.perf_counter()
    settings = relay.settings
    try:
        body = await read_body(receive, settings.max_body_bytes)
    except TimeoutError:
        await answer(send, 408, TOO_SLOW, ((b"connection", b"close"),))
        return
    if body is None:
        await answer(send, 413, TOO_LARGE)
        return
    headers = kept_headers(scope)
    forwarded_for = None
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded_for = value
    client = scope.get("client")
    peer = client[0] if client else ""
    source = client_address(
        peer, None if forwarded_for is None else forwarded_for.decode("latin-1"), settings.trusted_proxies
    )
    path = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]  # before mounting
    listed = is_allowed(source, settings.allowed_callback_ips)
    item = IncomingCallback(
        received_at=relay.clock(),
        path=path[:PATH_MAX],
        token=None if token is None else token[:PATH_MAX].replace("\x00", "\ufffd"),
        source_ip=source,
        source_allowed=not settings.ip_allowlist_enabled or listed,
        headers=headers,
        body=body,
        source_listed=listed,
    )
    try:
        await relay.write.submit_callback(item)
    except Exception as error:
        # Not on disk, so not acknowledged: the one case the relay does not answer 200.
        refuse_unstored(relay, error, "callback")
        await answer(send, 503, NOT_STORED)
        return
    relay.storage_ok()
    await answer(send, 200, ACCEPTED)
    relay.metrics.intake_latency.observe(time.perf_counter() - started)


@asgi("/api/v1/callbacks/stk", is_mount=True, copy_scope=True)
async def tokenised_callback(scope: Scope, receive: Receive, send: Send) -> None:
    # Mounted: `path` is what follows the mount point, "/<token>".
    token = scope["path"].strip("/")
    if not token or "/" in token:
        await answer(send, 404, b'{"detail":"Not Found"}')
        return
    await _take_callback(scope, receive, send, token)


@asgi("/api/v1/payments/mpesa/callback", copy_scope=False)
async def seed_path_callback(scope: Scope, receive: Receive, send: Send) -> None:
    await _take_callback(scope, receive, send, None)
