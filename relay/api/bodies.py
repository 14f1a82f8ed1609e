"""Every request body the relay reads, bounded in time and in size.

A client trickling its body byte by byte must not hold a connection and a handler for ever:
daraja_core/bounded_httptools.py bounds the request head, `read_body` the body, on every path (Safaricom's
callbacks as raw ASGI, the till API through Litestar's `Request`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.types import Receive

# Daraja's callbacks and the till's requests are under 1 kB and come whole; a body still arriving after
# this is a client holding the connection open.
BODY_TIMEOUT_S = 10.0
# The till API's bodies (PaymentRegistration, OrphanSearch, C2bClaim, C2bRelease in
# daraja_core/contract.py) are under 1 KiB: two ids of at most 120 characters, a phone, an amount, two
# times. 4 KiB leaves room for those ids written entirely in \u escapes. Also Litestar's
# `request_max_body_size` (relay/app.py), so no body it parses itself can be larger.
API_BODY_MAX_BYTES = 4 * 1024


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past `limit` bytes.

    Raises TimeoutError when it takes over BODY_TIMEOUT_S."""
    async with asyncio.timeout(BODY_TIMEOUT_S):
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def api_body(request: Request[Any, Any, State]) -> bytes:
    """A till-API request's body, at most API_BODY_MAX_BYTES: 413 beyond it; 408 and the connection
    closed when it takes over BODY_TIMEOUT_S to arrive."""
    try:
        body = await read_body(request.receive, API_BODY_MAX_BYTES)
    except TimeoutError:
        raise HTTPException(
            status_code=408,
            detail=f"the request body took over {BODY_TIMEOUT_S:g} s to arrive",
            headers={"connection": "close"},
        ) from None
    if body is None:
        raise HTTPException(status_code=413, detail=f"the request body is over {API_BODY_MAX_BYTES} bytes")
    return body
