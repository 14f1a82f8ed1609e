"""The simulator's HTTP face, on Daraja's own paths (docs/daraja.md §1–§3; C2B in `c2b_routes.py`).

Bodies are read raw and checked by hand: the point is to answer malformed requests the way Daraja
does, with its codes and messages, not with a framework's validation errors.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.enums import MediaType

from daraja_core.simulator import errors
from daraja_core.simulator.c2b_routes import C2B_ROUTES
from daraja_core.simulator.engine import Clock, SimulatorEngine
from daraja_core.simulator.errors import logged_error
from daraja_core.simulator.scenarios import PushBehaviour, scenario_for
from daraja_core.simulator.settings import SimulatorSettings
from daraja_core.simulator.validation import RequestRefused, check_push, check_query, parse_json_object

PUSH_ACCEPTED = "Success. Request accepted for processing"


@get("/oauth/v1/generate", sync_to_thread=False)
def generate_token(request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]) -> Response[Any]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return logged_error(sim, request, errors.INVALID_AUTH_TYPE)
    # LNM#34: trailing whitespace after the grant type is enough for 400.008.02.
    if request.query_params.get("grant_type") != "client_credentials":
        return logged_error(sim, request, errors.INVALID_GRANT_TYPE)
    try:
        key, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        key, secret = "", ""
    if not sim.credentials_match(key, secret):
        # Observed live: HTTP 400 with an empty body, no error code at all (§1, umoja-hub 08 §2).
        sim.record_request(request.method, request.url.path, 400, "400 bad credentials (empty body)")
        return Response(content=b"", status_code=400, media_type=MediaType.TEXT)
    token = sim.issue_token()
    sim.record_request(request.method, request.url.path, 200, "token issued")
    # expires_in is a string on the wire even though the doc shows a number (§1, §9 item 12).
    return Response(
        content={"access_token": token, "expires_in": str(int(sim.settings.token_lifetime_s))},
        status_code=200,
    )


async def _hold_answer(request: Request[Any, Any, Any], delay_s: float) -> None:
    """Wait `delay_s`, or less if the client hangs up first (it timed out: nobody is left to answer)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay_s):
            while (await request.receive())["type"] != "http.disconnect":
                pass


@post("/mpesa/stkpush/v1/processrequest", status_code=200)
async def stk_push(request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]) -> Response[Any]:
    if not sim.bearer_is_valid(request.headers.get("authorization")):
        return logged_error(sim, request, errors.INVALID_ACCESS_TOKEN)
    body: dict[str, Any] = {}
    try:
        body = parse_json_object(await request.body())
        push = check_push(body, sim.passkeys)
    except RequestRefused as refused:
        return logged_error(sim, request, refused.error, phone=body.get("PhoneNumber"))
    scenario = scenario_for(push.phone)
    if scenario.push is PushBehaviour.REFUSE_LOCKED:
        return logged_error(sim, request, errors.UNABLE_TO_LOCK, phone=push.phone)
    if scenario.push is PushBehaviour.INTERNAL_ERROR:
        # Deviation, documented in the README: on Daraja a 500.003.1001 leaves the push's fate unknowable;
        # here it is never accepted, so nothing rings, no callback comes and STK Query cannot find it.
        return logged_error(sim, request, errors.INTERNAL_SERVER_ERROR, phone=push.phone)
    transaction = sim.accept_push(push, scenario)
    slow = scenario.push is PushBehaviour.ACCEPT_SLOW_ANSWER
    sim.record_request(
        request.method,
        request.url.path,
        200,
        f"accepted ({scenario.name}, {transaction.result.code})"
        + (f", answer held back {sim.settings.push_response_delay_s:g} s" if slow else ""),
        phone=push.phone,
        checkout_request_id=transaction.checkout_request_id,
    )
    if slow:
        await _hold_answer(request, sim.settings.push_response_delay_s)
    return Response(
        content={
            "MerchantRequestID": transaction.merchant_request_id,
            "CheckoutRequestID": transaction.checkout_request_id,
            "ResponseCode": "0",
            "ResponseDescription": PUSH_ACCEPTED,
            "CustomerMessage": PUSH_ACCEPTED,
        },
        status_code=200,
    )


@post("/mpesa/stkpushquery/v1/query", status_code=200)
async def stk_query(request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]) -> Response[Any]:
    if not sim.bearer_is_valid(request.headers.get("authorization")):
        return logged_error(sim, request, errors.INVALID_ACCESS_TOKEN)
    body: dict[str, Any] = {}
    try:
        body = parse_json_object(await request.body())
        query = check_query(body, sim.passkeys)
    except RequestRefused as refused:
        checkout_id = body.get("CheckoutRequestID")
        return logged_error(
            sim, request, refused.error, request_id=checkout_id if isinstance(checkout_id, str) else None
        )
    checkout_id = query.checkout_request_id
    phone = sim.phone_of(checkout_id)
    answer = sim.query(checkout_id)
    if isinstance(answer, errors.DarajaError):
        # Query errors carry the CheckoutRequestID as their requestId (LNM#13, §2b).
        return logged_error(sim, request, answer, phone=phone, request_id=checkout_id)
    sim.record_request(
        request.method,
        request.url.path,
        200,
        f"ResultCode {answer['ResultCode']}",
        phone=phone,
        checkout_request_id=checkout_id,
    )
    return Response(content=answer, status_code=200)


@get("/simulator/log", sync_to_thread=False)
def simulator_log(sim: NamedDependency[SimulatorEngine]) -> dict[str, Any]:
    return sim.log_snapshot()


@post("/simulator/reset", status_code=200)
async def simulator_reset(sim: NamedDependency[SimulatorEngine]) -> dict[str, str]:
    await sim.reset()
    return {"status": "reset"}


def create_app(settings: SimulatorSettings | None = None, *, clock: Clock | None = None) -> Litestar:
    """A Daraja simulator; `clock` (aware UTC datetimes) is for tests, `app.state.simulator` the engine."""
    engine = SimulatorEngine(settings or SimulatorSettings(), clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    def provide_engine() -> SimulatorEngine:
        return engine

    app = Litestar(
        route_handlers=[generate_token, stk_push, stk_query, simulator_log, simulator_reset, *C2B_ROUTES],
        dependencies={"sim": Provide(provide_engine, sync_to_thread=False)},
        lifespan=[lifespan],
        response_headers=[ResponseHeader(name="X-Daraja-Simulator", value="SIMULATOR - no real money")],
        openapi_config=None,
    )
    app.state.simulator = engine
    return app
