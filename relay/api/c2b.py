"""C2B over HTTP (docs/daraja.md §6): Safaricom's confirmation and validation POSTs on the shop's tokenised
paths, and the tills' claim and release.

Confirmation: stored (raw first, group-committed by the writer) before it is answered with Daraja's own
reply, `{"ResultCode": 0, "ResultDesc": "Success"}`, for duplicates and garbage too; 503 only when it
could not be stored. Validation: accepted at once, `{"ResultCode": "0", "ResultDesc": "Accepted"}`, even
when the database is slow or down: a missing answer would leave the payment to the registered
ResponseType, which may cancel it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Controller, Litestar, Request, asgi, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.types import Receive, Scope, Send

from daraja_core.contract import C2bClaim, C2bPayment, C2bRelease, ContractError, decode
from relay.api.bodies import api_body, read_body
from relay.api.callbacks import (
    NOT_STORED,
    PATH_MAX,
    TOO_LARGE,
    TOO_SLOW,
    answer,
    kept_headers,
    refuse_unstored,
)
from relay.api.till import authed_read, relay_of, storable_id
from relay.c2b import CONFIRMATION, ORDER_ID_MAX, VALIDATION, ClaimResult, claim, process_c2b, release
from relay.intake import IncomingCallback, store_raw_only
from relay.service import Relay
from relay.settle import Effects
from relay.sources import client_address, is_allowed

log = logging.getLogger("relay")

CONFIRMED = b'{"ResultCode":0,"ResultDesc":"Success"}'
VALIDATED = b'{"ResultCode":"0","ResultDesc":"Accepted"}'
#: How long validation waits for its raw copy to be stored before answering anyway (Daraja waits ~8 s).
VALIDATION_STORE_WAIT_S = 2.0


def _incoming(scope: Scope, relay: Relay, token: str, body: bytes) -> IncomingCallback:
    settings = relay.settings
    headers = kept_headers(scope)
    client = scope.get("client")
    source = client_address(
        client[0] if client else "", headers.get("x-forwarded-for"), settings.trusted_proxies
    )
    path = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]
    return IncomingCallback(
        received_at=relay.clock(),
        path=path[:PATH_MAX],
        token=token[:PATH_MAX].replace("\x00", "\ufffd"),
        source_ip=source,
        source_allowed=not settings.ip_allowlist_enabled or is_allowed(source, settings.allowed_callback_ips),
        headers=headers,
        body=body,
    )


async def _store(relay: Relay, item: IncomingCallback, kind: str) -> None:
    """Store and process; if processing fails, keep the request raw with the error (never lost)."""
    try:
        await relay.write.submit(lambda connection: process_c2b(connection, item, kind))
    except Exception as error:
        log.exception("C2B %s processing failed; storing it raw", kind)
        message = f"{type(error).__name__}: {error}"
        await relay.write.submit(lambda connection: (store_raw_only(connection, item, message), Effects()))


@asgi("/api/v1/callbacks/c2b", is_mount=True, copy_scope=True)
async def c2b_callback(scope: Scope, receive: Receive, send: Send) -> None:
    # Mounted: `path` is what follows the mount point, "/<token>/confirmation" or "/<token>/validation".
    token, _, kind = scope["path"].strip("/").partition("/")
    if scope.get("method") != "POST":
        await answer(send, 405, b'{"detail":"Method Not Allowed"}', ((b"allow", b"POST"),))
        return
    if not token or kind not in (CONFIRMATION, VALIDATION):
        await answer(send, 404, b'{"detail":"Not Found"}')
        return
    relay: Relay = Litestar.from_scope(scope).state.relay
    try:
        body = await read_body(receive, relay.settings.max_body_bytes)
    except TimeoutError:
        await answer(send, 408, TOO_SLOW, ((b"connection", b"close"),))
        return
    if body is None:
        await answer(send, 413, TOO_LARGE)
        return
    item = _incoming(scope, relay, token, body)
    if kind == VALIDATION:
        try:
            await asyncio.wait_for(asyncio.shield(_store(relay, item, kind)), VALIDATION_STORE_WAIT_S)
        except Exception:
            log.warning("C2B validation not stored in time; accepted anyway", exc_info=True)
        await answer(send, 200, VALIDATED)
        return
    try:
        await _store(relay, item, kind)
    except Exception as error:
        # Not on disk, so not acknowledged.
        refuse_unstored(relay, error, "C2B confirmation")
        await answer(send, 503, NOT_STORED)
        return
    relay.storage_ok()
    await answer(send, 200, CONFIRMED)


def _not_found() -> NotFoundException:
    return NotFoundException("this till's shop has no C2B payment with this TransID")


class C2bController(Controller):
    path = "/api/v1/c2b"

    @post("/{trans_id:str}/claim", status_code=200)
    async def claim(self, request: Request[Any, Any, State], trans_id: FromPath[str]) -> C2bPayment:
        """Take the payment for a sale; 409 names the sale that has it already."""
        relay = relay_of(request)
        till, _ = await authed_read(request, lambda _c, _t: None)
        storable_id(trans_id, "trans_id")
        try:
            order_id = decode(await api_body(request), C2bClaim).order_id.strip()
        except ContractError as error:
            raise HTTPException(status_code=400, detail=f"invalid claim: {error}") from error
        if not order_id or len(order_id) > ORDER_ID_MAX or "\x00" in order_id:
            raise HTTPException(
                status_code=400, detail=f"order_id is required, at most {ORDER_ID_MAX} characters, no NUL"
            )
        now = relay.clock()
        result: ClaimResult = await relay.write.submit(lambda c: claim(c, till, trans_id, order_id, now))
        if result.payment is None:
            raise _not_found()
        if not result.won:
            raise HTTPException(
                status_code=409,
                detail=f"already claimed by order {result.payment.claimed_by}",
                extra={"claimed_by": result.payment.claimed_by},
            )
        return result.payment

    @post("/{trans_id:str}/release", status_code=200)
    async def release(self, request: Request[Any, Any, State], trans_id: FromPath[str]) -> C2bPayment:
        """Free the payment for another sale (the till asked for the owner's PIN first)."""
        relay = relay_of(request)
        till, _ = await authed_read(request, lambda _c, _t: None)
        storable_id(trans_id, "trans_id")
        raw = await api_body(request)
        try:
            released_by = decode(raw, C2bRelease).released_by.strip() if raw.strip() else ""
        except ContractError as error:
            raise HTTPException(status_code=400, detail=f"invalid release: {error}") from error
        storable_id(released_by, "released_by")
        now = relay.clock()
        payment = await relay.write.submit(lambda c: release(c, till, trans_id, released_by, now))
        if payment is None:
            raise _not_found()
        result: C2bPayment = payment
        return result
