"""`create_app(settings)`: the relay's Litestar application (HTTP contract in docs/architecture.md)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Litestar, Request, Response, asgi, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import Connection

from daraja_core.phones import InvalidPhone, normalise_msisdn
from relay.alerts import compute_alerts, pending_count
from relay.db import Database, asyncpg_dsn
from relay.intake import Effects, IncomingCallback
from relay.metrics import RelayMetrics
from relay.migrate import upgrade
from relay.models import utcnow
from relay.notify import Hub, PgListener
from relay.payments import (
    PaymentCreate,
    RegistrationConflict,
    feed_page,
    is_settled_or_flagged,
    payment_status,
    receipt_lookup,
    register_payment,
    selftest_lookup,
)
from relay.settings import RelaySettings
from relay.sources import client_address, is_allowed
from relay.tills import TillRef, till_for_key
from relay.writer import Writer

T = TypeVar("T")
log = logging.getLogger("relay")

ACCEPTED = b'{"ResultCode":0,"ResultDesc":"Accepted"}'
NOT_STORED = b'{"ResultCode":1,"ResultDesc":"Not stored, try again"}'
TOO_LARGE = b'{"ResultCode":1,"ResultDesc":"Body too large"}'
CHECKPOINT_EVERY_S = 1.0
# Safety net for long-polls: re-read the database this often even without a notification.
RECHECK_S = 2.0
# Headers that may carry someone's secret; stored as "<redacted>".
_REDACT = frozenset({b"authorization", b"cookie", b"proxy-authorization"})


@dataclass
class Relay:
    """Everything a request handler needs, kept in `app.state.relay`."""

    settings: RelaySettings
    clock: Callable[[], datetime]
    db: Database | None = None
    writer: Writer | None = None
    hub: Hub = field(default_factory=Hub)
    metrics: RelayMetrics = field(default_factory=RelayMetrics)
    listener: PgListener | None = None
    # Set when the host is about to stop the server: open long-polls answer with what they have.
    closing: bool = False
    checkpointer: asyncio.Task[None] | None = None
    freeze_gc: bool = False

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the relay is not started")
        return self.db

    @property
    def write(self) -> Writer:
        if self.writer is None:
            raise RuntimeError("the relay is not started")
        return self.writer

    def committed(self, effects: Effects) -> None:
        """After each commit: wake long-polls, count, and log each change once."""
        self.hub.notify(effects.till_ids)
        self.metrics.observe(effects)
        for event in effects.events:
            fields = dict(event)
            log.info(fields.pop("event"), extra={"fields": fields})

    def release_waiters(self) -> None:
        """Answer every open long-poll now (with its current status), so stopping the server does not
        wait up to 30 s for them. Call before stopping uvicorn."""
        self.closing = True
        self.hub.wake_all()

    async def start(self) -> None:
        self.closing = False
        if self.settings.migrate_on_start:
            await upgrade(self.settings.database_url)
        self.db = Database(self.settings.database_url)
        if not self.db.is_sqlite:
            self.listener = PgListener(asyncpg_dsn(self.db.url), self.hub)
            await self.listener.start()
        self.writer = Writer(self.db, self.committed, max_batch=self.settings.max_batch)
        self.writer.start()
        if self.db.is_sqlite:
            self.checkpointer = asyncio.create_task(self._checkpoint_every(CHECKPOINT_EVERY_S))
        if self.freeze_gc:
            # Everything loaded so far lives as long as the process: keep it out of the cyclic
            # collector's full passes, which otherwise stall the loop for tens of ms under load.
            # Only for a process of its own (`mpesa-relay serve`), never inside the till.
            gc.freeze()

    async def _checkpoint_every(self, interval_s: float) -> None:
        """SQLite's WAL is copied back into the database file here, off the writer's commit path (an
        automatic checkpoint would run inside some unlucky callback's commit and set the tail latency)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.database.checkpoint()
            except Exception:
                log.warning("WAL checkpoint failed; retrying", exc_info=True)

    async def stop(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.checkpointer
            self.checkpointer = None
        if self.writer is not None:
            await self.writer.stop()
        if self.db is not None:
            with contextlib.suppress(Exception):
                await self.db.checkpoint()
        if self.listener is not None:
            await self.listener.stop()
        if self.db is not None:
            await self.db.dispose()


def relay_of(request: Request[Any, Any, State]) -> Relay:
    relay: Relay = request.app.state.relay
    return relay


def _bearer(request: Request[Any, Any, State]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException("send the till key as 'Authorization: Bearer <key>'")
    return key.strip()


async def authed_read(
    request: Request[Any, Any, State], fn: Callable[[Connection, TillRef], T]
) -> tuple[TillRef, T]:
    """Authenticate the till and run `fn` for it in the same database round trip."""
    key = _bearer(request)

    def run(connection: Connection) -> tuple[TillRef | None, T | None]:
        till = till_for_key(connection, key)
        return (None, None) if till is None else (till, fn(connection, till))

    till, answer = await relay_of(request).database.read(run)
    if till is None:
        raise NotAuthorizedException("unknown or revoked till key")
    return till, answer  # type: ignore[return-value]


async def long_poll(
    request: Request[Any, Any, State],
    fn: Callable[[Connection, TillRef], T],
    done: Callable[[T], bool],
    wait_s: float,
) -> T:
    """Read; if not `done`, wait for this till's next commit (or the deadline) and read again.

    Subscribes before each read, so a commit landing between the read and the wait still wakes us.
    """
    relay = relay_of(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(max(wait_s, 0.0), relay.settings.long_poll_max_s)
    till, answer = await authed_read(request, fn)
    if done(answer) or deadline <= loop.time():
        return answer
    while True:
        with relay.hub.subscription(till.id) as changed:
            _, answer = await authed_read(request, fn)
            remaining = deadline - loop.time()
            if done(answer) or remaining <= 0 or relay.closing:
                return answer
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(remaining, RECHECK_S))


def _wait_param(wait: float) -> float:
    if not 0 <= wait <= 30:
        raise HTTPException(status_code=400, detail="wait is in seconds, 0 to 30")
    return wait


# -- callbacks -----------------------------------------------------------------------------------------


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past `limit` bytes."""
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


async def _answer(send: Send, status: int, body: bytes) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


async def _take_callback(scope: Scope, receive: Receive, send: Send, token: str | None) -> None:
    """Safaricom's side: store, then answer 200 Accepted (413 over the size limit, 503 if not stored).

    A raw ASGI handler: this is the hot path, and Litestar's request/response machinery cost as much as
    everything else a callback needs (benchmarks/relay_bench.py).
    """
    if scope.get("method") != "POST":
        await _answer(send, 405, b'{"detail":"POST a callback"}')
        return
    relay: Relay = Litestar.from_scope(scope).state.relay
    started = time.perf_counter()
    settings = relay.settings
    body = await _read_body(receive, settings.max_body_bytes)
    if body is None:
        await _answer(send, 413, TOO_LARGE)
        return
    headers = {
        name.decode("latin-1"): ("<redacted>" if name in _REDACT else value.decode("latin-1"))
        for name, value in scope["headers"]
    }
    client = scope.get("client")
    peer = client[0] if client else ""
    source = client_address(peer, headers.get("x-forwarded-for"), settings.trusted_proxies)
    item = IncomingCallback(
        received_at=relay.clock(),
        path=scope["raw_path"].decode("latin-1")
        if scope.get("raw_path")
        else scope["path"],  # before mounting
        token=token,
        source_ip=source,
        source_allowed=not settings.ip_allowlist_enabled or is_allowed(source, settings.allowed_callback_ips),
        headers=headers,
        body=body,
    )
    try:
        await relay.write.submit_callback(item)
    except Exception:
        # Not on disk, so not acknowledged: the one case the relay does not answer 200.
        log.exception("callback could not be stored")
        await _answer(send, 503, NOT_STORED)
        return
    await _answer(send, 200, ACCEPTED)
    relay.metrics.intake_latency.observe(time.perf_counter() - started)


@asgi("/api/v1/callbacks/stk", is_mount=True, copy_scope=True)
async def tokenised_callback(scope: Scope, receive: Receive, send: Send) -> None:
    # Mounted: `path` is what follows the mount point, "/<token>".
    token = scope["path"].strip("/")
    if not token or "/" in token:
        await _answer(send, 404, b'{"detail":"Not Found"}')
        return
    await _take_callback(scope, receive, send, token)


@asgi("/api/v1/payments/mpesa/callback", copy_scope=False)
async def seed_path_callback(scope: Scope, receive: Receive, send: Send) -> None:
    await _take_callback(scope, receive, send, None)


# -- till API ------------------------------------------------------------------------------------------


class PaymentCreateBody(msgspec.Struct, forbid_unknown_fields=False):
    order_id: str
    checkout_request_id: str
    amount_kes: int
    phone: str


class TillController(Controller):
    path = "/api/v1"

    @get("/till")
    async def till(self, request: Request[Any, Any, State]) -> dict[str, str]:
        till, _ = await authed_read(request, lambda _c, _t: None)
        return {"name": till.name, "callback_path": till.callback_path}

    @post("/payments", status_code=200)
    async def register(self, request: Request[Any, Any, State]) -> dict[str, Any]:
        relay = relay_of(request)
        till, _ = await authed_read(request, lambda _c, _t: None)
        try:
            data = msgspec.json.decode(await request.body(), type=PaymentCreateBody)
        except msgspec.ValidationError as error:
            raise HTTPException(status_code=400, detail=f"invalid payment: {error}") from error
        except msgspec.DecodeError as error:
            raise HTTPException(status_code=400, detail="the body is not JSON") from error
        if not data.order_id.strip() or not data.checkout_request_id.strip():
            raise HTTPException(status_code=400, detail="order_id and checkout_request_id are required")
        if data.amount_kes < 1:
            raise HTTPException(
                status_code=400, detail="amount_kes is a whole number of shillings, at least 1"
            )
        try:
            phone = normalise_msisdn(data.phone)
        except InvalidPhone as error:
            raise HTTPException(status_code=400, detail=str(error)) from error
        create = PaymentCreate(
            data.order_id.strip(), data.checkout_request_id.strip(), data.amount_kes, phone
        )
        now = relay.clock()
        try:
            await relay.write.submit(lambda connection: register_payment(connection, till, create, now))
        except RegistrationConflict as error:
            raise HTTPException(status_code=409, detail=str(error)) from error
        _, answer = await authed_read(request, lambda c, t: payment_status(c, t.id, create.order_id))
        assert answer is not None
        return answer

    @get("/payments/{order_id:str}/status")
    async def status(
        self,
        request: Request[Any, Any, State],
        order_id: FromPath[str],
        wait: Annotated[float, QueryParameter()] = 0.0,
    ) -> dict[str, Any]:
        answer = await long_poll(
            request,
            lambda c, t: payment_status(c, t.id, order_id),
            lambda p: p is None or is_settled_or_flagged(p),
            _wait_param(wait),
        )
        if answer is None:
            raise NotFoundException("this till has no such order")
        return answer

    @get("/results")
    async def results(
        self,
        request: Request[Any, Any, State],
        after: Annotated[int, QueryParameter(ge=0)] = 0,
        wait: Annotated[float, QueryParameter()] = 0.0,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        items = await long_poll(
            request, lambda c, t: feed_page(c, t.id, after, limit), lambda page: bool(page), _wait_param(wait)
        )
        return {"items": items, "next_after": items[-1]["seq"] if items else after}

    @get("/receipts/{receipt:str}")
    async def receipt(self, request: Request[Any, Any, State], receipt: FromPath[str]) -> dict[str, Any]:
        _, answer = await authed_read(request, lambda c, t: receipt_lookup(c, t.id, receipt))
        if answer is None:
            raise NotFoundException("no result with this receipt for this till")
        return answer

    @get("/selftest/{checkout_request_id:str}")
    async def selftest(
        self, request: Request[Any, Any, State], checkout_request_id: FromPath[str]
    ) -> dict[str, Any]:
        _, answer = await authed_read(request, lambda c, t: selftest_lookup(c, t.id, checkout_request_id))
        if answer is None:
            raise NotFoundException("no self-test callback with this id reached this till's callback path")
        return answer


# -- operations ----------------------------------------------------------------------------------------


def _require_admin(request: Request[Any, Any, State]) -> None:
    token = relay_of(request).settings.admin_token
    if token is None:
        return
    if not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
        raise NotAuthorizedException("send the admin token as 'Authorization: Bearer <token>'")


class OpsController(Controller):
    @get("/healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz")
    async def readyz(self, request: Request[Any, Any, State]) -> Response[dict[str, str]]:
        try:
            await asyncio.wait_for(relay_of(request).database.ping(), timeout=5)
        except Exception as error:
            return Response({"status": "unavailable", "database": type(error).__name__}, status_code=503)
        return Response({"status": "ready", "database": "ok"}, status_code=200)

    @get("/metrics")
    async def metrics(self, request: Request[Any, Any, State]) -> Response[bytes]:
        _require_admin(request)
        relay = relay_of(request)
        relay.metrics.pending.set(await relay.database.read(pending_count))
        return Response(generate_latest(relay.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @get("/api/v1/alerts")
    async def alerts(self, request: Request[Any, Any, State]) -> dict[str, Any]:
        _require_admin(request)
        relay = relay_of(request)
        now = relay.clock()
        settings = relay.settings
        return await relay.database.read(
            lambda c: compute_alerts(c, now, settings.hours, settings.pending_alert_after_s)
        )


def release_waiters(app: Litestar) -> None:
    """Let a relay app's open long-polls answer at once; call before stopping its server."""
    relay: Relay = app.state.relay
    relay.release_waiters()


def create_app(
    settings: RelaySettings | None = None, *, clock: Callable[[], datetime] = utcnow, freeze_gc: bool = False
) -> Litestar:
    """The relay app; it migrates (unless told not to), opens the database and starts its writer on start.

    `freeze_gc`: for a process that is only the relay (`mpesa-relay serve`), see `Relay.start`.
    """
    relay = Relay(settings or RelaySettings.from_env(), clock, freeze_gc=freeze_gc)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await relay.start()
        try:
            yield
        finally:
            await relay.stop()

    return Litestar(
        route_handlers=[tokenised_callback, seed_path_callback, TillController, OpsController],
        lifespan=[lifespan],
        state=State({"relay": relay}),
        request_max_body_size=relay.settings.max_body_bytes,
        openapi_config=None,
        # The host program (uvicorn, the till) owns logging; Litestar must not reconfigure the root logger.
        logging_config=None,
    )
