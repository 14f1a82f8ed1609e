"""The till's side of the HTTP contract (docs/architecture.md): Bearer till key, a till sees only its
own payments; status and feed long-polls read the database, woken by the commits that change their answer
(relay/notify.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, QueryParameter
from sqlalchemy.engine import Connection

from daraja_core.contract import (
    ContractError,
    FeedItem,
    FeedPage,
    OrphanPage,
    OrphanSearch,
    Payment,
    PaymentRegistration,
    ReceiptAnswer,
    SelftestSeen,
    TillInfo,
    decode,
    parse_wire_time,
)
from daraja_core.phones import InvalidPhone, normalise_msisdn
from relay.api.bodies import api_body
from relay.c2b import c2b_receipt_lookup, shop_of_till
from relay.notify import Key, feed_key, status_key
from relay.orphans import orphan_search
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
from relay.service import Relay
from relay.tills import TillRef, till_for_key

T = TypeVar("T")


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

    till, answer = await relay_of(request).database.grouped.read(run)
    if till is None:
        raise NotAuthorizedException("unknown or revoked till key")
    return till, answer  # type: ignore[return-value]


async def long_poll(
    request: Request[Any, Any, State],
    fn: Callable[[Connection, TillRef], T],
    done: Callable[[T], bool],
    wait_s: float,
    key: Callable[[TillRef], Key],
) -> T:
    """Read; if not `done`, wait until a commit changes this poll's `key` (or the deadline) and read again.

    Race-free without reading twice: a mark taken before each read tells, once subscribed, whether a
    change was announced meanwhile (then read again at once). The first read learns which till this is,
    so its mark is the hub's global one; later marks are the till's own.
    """
    relay = relay_of(request)
    hub = relay.hub
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(max(wait_s, 0.0), relay.settings.long_poll_max_s)
    seen, till_id = hub.mark(), None
    till, answer = await authed_read(request, fn)
    while not done(answer) and not relay.closing:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        with hub.subscription(key(till)) as changed:
            if hub.mark(till_id) == seen:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=remaining)
        till_id = till.id
        seen = hub.mark(till_id)
        hub.rereads += 1
        till, answer = await authed_read(request, fn)
    return answer


# What the tables hold (relay/models.py): ids of at most 120 characters, no NUL (PostgreSQL's text refuses
# it), amounts within a 32-bit integer. Past these a request is refused with the reason, never answered 500.
ID_MAX = 120
AMOUNT_MAX = 2**31 - 1


def storable_id(value: str, name: str) -> str:
    if "\x00" in value or len(value) > ID_MAX:
        raise HTTPException(status_code=400, detail=f"{name} is at most {ID_MAX} characters, with no NUL")
    return value


def _wait_param(wait: float) -> float:
    if not 0 <= wait <= 30:
        raise HTTPException(status_code=400, detail="wait is in seconds, 0 to 30")
    return wait


_OPENAPI_TYPES = {msgspec.inspect.StrType: OpenAPIType.STRING, msgspec.inspect.IntType: OpenAPIType.INTEGER}


def _field_schema(kind: msgspec.inspect.Type) -> Schema:
    if isinstance(kind, msgspec.inspect.Metadata):  # Annotated: WireTime
        extra = kind.extra_json_schema or {}
        return Schema(
            type=_OPENAPI_TYPES[type(kind.type)],
            description=extra.get("description"),
            examples=extra.get("examples"),
        )
    return Schema(type=_OPENAPI_TYPES[type(kind)])


def _body_operation(shape: type[msgspec.Struct]) -> type[Operation]:
    """An operation whose documented request body is the contract Struct `shape` (the handler decodes the
    body itself, strictly, after the key is checked)."""

    @dataclass
    class _Documented(Operation):
        def __post_init__(self) -> None:
            info = msgspec.inspect.type_info(shape)
            if not isinstance(info, msgspec.inspect.StructType):
                raise TypeError(f"{shape.__name__} is not a msgspec Struct")
            schema = Schema(
                type=OpenAPIType.OBJECT,
                title=shape.__name__,
                properties={field.encode_name: _field_schema(field.type) for field in info.fields},
                required=[field.encode_name for field in info.fields if field.required],
            )
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=schema)}, required=True
            )

    return _Documented


class TillController(Controller):
    path = "/api/v1"

    @get("/till")
    async def till(self, request: Request[Any, Any, State]) -> TillInfo:
        till, shop = await authed_read(request, lambda c, t: shop_of_till(c, t.id))
        return TillInfo(name=till.name, callback_path=till.callback_path, shop=shop)

    # The body is decoded here, strictly and after the key is checked, not by Litestar (which would
    # coerce "10" into 10); `_body_operation` documents it in the OpenAPI schema.
    @post("/payments", status_code=200, operation_class=_body_operation(PaymentRegistration))
    async def register(self, request: Request[Any, Any, State]) -> Payment:
        relay = relay_of(request)
        till, _ = await authed_read(request, lambda _c, _t: None)
        try:
            data = decode(await api_body(request), PaymentRegistration)
        except ContractError as error:
            raise HTTPException(status_code=400, detail=f"invalid payment: {error}") from error
        if not data.order_id.strip() or not data.checkout_request_id.strip():
            raise HTTPException(status_code=400, detail="order_id and checkout_request_id are required")
        storable_id(data.order_id, "order_id")
        storable_id(data.checkout_request_id, "checkout_request_id")
        if not 1 <= data.amount_kes <= AMOUNT_MAX:
            raise HTTPException(
                status_code=400, detail=f"amount_kes is a whole number of shillings, 1 to {AMOUNT_MAX}"
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
        if answer is None:
            raise RuntimeError(
                f"the payment for order {create.order_id!r} was not found after registering it"
            )
        return answer

    @post("/orphans", status_code=200, operation_class=_body_operation(OrphanSearch))
    async def orphans(self, request: Request[Any, Any, State]) -> OrphanPage:
        """Results on this till's own callback path that it never registered (relay/orphans.py)."""
        await authed_read(request, lambda _c, _t: None)  # the key first: a stranger learns nothing
        try:
            search = decode(await api_body(request), OrphanSearch)
            since, until = parse_wire_time(search.since), parse_wire_time(search.until)
        except (ContractError, ValueError) as error:
            raise HTTPException(status_code=400, detail=f"invalid orphan search: {error}") from error
        if since is None or until is None or since.tzinfo is None or until.tzinfo is None or since > until:
            raise HTTPException(
                status_code=400, detail="since and until are ISO times with offsets, in order"
            )
        if not 1 <= search.amount_kes < 2**31:
            raise HTTPException(
                status_code=400, detail="amount_kes is a whole number of shillings, at least 1"
            )
        try:
            phone = normalise_msisdn(search.phone)
        except InvalidPhone as error:
            raise HTTPException(status_code=400, detail=str(error)) from error
        _, page = await authed_read(
            request, lambda c, t: orphan_search(c, t.id, search.amount_kes, phone, since, until)
        )
        return page

    @get("/payments/{order_id:str}/status")
    async def status(
        self,
        request: Request[Any, Any, State],
        order_id: FromPath[str],
        wait: Annotated[float, QueryParameter()] = 0.0,
    ) -> Payment:
        storable_id(order_id, "order_id")
        answer = await long_poll(
            request,
            lambda c, t: payment_status(c, t.id, order_id),
            lambda p: p is None or is_settled_or_flagged(p),
            _wait_param(wait),
            lambda t: status_key(t.id, order_id),
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
    ) -> FeedPage:
        items: list[FeedItem] = await long_poll(
            request,
            lambda c, t: feed_page(c, t.id, after, limit),
            lambda page: bool(page),
            _wait_param(wait),
            lambda t: feed_key(t.id),
        )
        return FeedPage(items=items, next_after=items[-1].seq if items else after)

    @get("/receipts/{receipt:str}")
    async def receipt(self, request: Request[Any, Any, State], receipt: FromPath[str]) -> ReceiptAnswer:
        storable_id(receipt, "receipt")
        _, answer = await authed_read(
            request, lambda c, t: receipt_lookup(c, t.id, receipt) or c2b_receipt_lookup(c, t.id, receipt)
        )
        if answer is None:
            raise NotFoundException("no result with this receipt for this till or its shop")
        return answer

    @get("/selftest/{checkout_request_id:str}")
    async def selftest(
        self, request: Request[Any, Any, State], checkout_request_id: FromPath[str]
    ) -> SelftestSeen:
        storable_id(checkout_request_id, "checkout_request_id")
        _, answer = await authed_read(request, lambda c, t: selftest_lookup(c, t.id, checkout_request_id))
        if answer is None:
            raise NotFoundException("no self-test callback with this id reached this till's callback path")
        return answer
