"""Fixtures that run the Daraja simulator on a loopback port, and a sink that records its callbacks.

`simulator` runs with short delays (callback 0.2 s, unreachable 0.6 s, slow push answer 3 s, spike
arrest under 0.05 s); `simulator_factory(**overrides)` takes SimulatorSettings fields, plus `clock=`
(aware UTC datetimes) to control token expiry and query timing. Both yield a `RunningSimulator`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, post
from litestar.params import FromPath

from daraja_core.serve import serving
from daraja_core.simulator import SimulatorSettings, create_app
from daraja_core.simulator.engine import Clock

TEST_SIMULATOR_SETTINGS = SimulatorSettings(
    callback_delay_s=0.2,
    unreachable_delay_s=0.6,
    push_response_delay_s=3.0,
    min_query_interval_s=0.05,
    # Longer than the product's 10 s, not shorter: no test is about a callback POST timing out, and a lost
    # callback loses the receipt (STK Query has none), the orphan, the duplicate. At 2 s, a relay slow to
    # answer on a loaded CI machine made the simulator give up on callbacks (with every callback failing,
    # 15 tests of test_payment_scenarios, test_message_check, test_recovery and test_cash fail).
    callback_timeout_s=30.0,
)


# Measured here: a kept-alive connection to an in-loop uvicorn answers its second request ~44 ms late;
# a fresh connection takes ~5 ms.
_ONE_SHOT = httpx.Limits(max_keepalive_connections=0)


def _loopback_client(base_url: str) -> httpx.AsyncClient:
    # Plain HTTP: no TLS context to build (~0.1 s each), one connection per request.
    transport = httpx.AsyncHTTPTransport(verify=False, limits=_ONE_SHOT)
    return httpx.AsyncClient(base_url=base_url, transport=transport, trust_env=False)


@dataclass
class RunningSimulator:
    base_url: str
    settings: SimulatorSettings

    async def log(self) -> dict[str, Any]:
        async with _loopback_client(self.base_url) as client:
            answer = await client.get("/simulator/log")
            answer.raise_for_status()
            return dict(answer.json())

    async def log_with_callbacks(self, count: int, timeout_s: float = 10.0) -> dict[str, Any]:
        """The log once it holds `count` callback entries (each is logged when its POST is over, which is
        after the receiver has it)."""
        async with asyncio.timeout(timeout_s):
            while True:
                log = await self.log()
                if len(log["callbacks"]) >= count:
                    return log
                await asyncio.sleep(0.02)

    async def reset(self) -> None:
        async with _loopback_client(self.base_url) as client:
            (await client.post("/simulator/reset")).raise_for_status()


SimulatorFactory = Callable[..., Awaitable[RunningSimulator]]


@pytest.fixture
async def simulator_factory() -> AsyncIterator[SimulatorFactory]:
    async with AsyncExitStack() as stack:

        async def start(clock: Clock | None = None, **overrides: Any) -> RunningSimulator:
            settings = TEST_SIMULATOR_SETTINGS.with_changes(**overrides)
            # A held-back push answer (254711000008) must not hold up the test's teardown.
            server = await stack.enter_async_context(
                serving(create_app(settings, clock=clock), timeout_graceful_shutdown=1)
            )
            return RunningSimulator(base_url=server.base_url, settings=settings)

        yield start


@pytest.fixture
async def simulator(simulator_factory: SimulatorFactory) -> RunningSimulator:
    return await simulator_factory()


@dataclass
class ReceivedCallback:
    path: str
    query: str
    headers: dict[str, str]
    raw: bytes
    json: Any


@dataclass
class CallbackSink:
    """Records every POST it gets (any path) and answers like a good receiver: 200 Accepted."""

    url: str = ""
    received: list[ReceivedCallback] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def url_for(self, path: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + path.lstrip("/")

    async def record(self, callback: ReceivedCallback) -> None:
        async with self._arrived:
            self.received.append(callback)
            self._arrived.notify_all()

    # `timeout` is the pinned fixture API (wait_for(n, timeout)); asyncio.timeout is used inside.
    async def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedCallback]:  # noqa: ASYNC109
        """Wait until at least `count` callbacks arrived; TimeoutError names how many did."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: len(self.received) >= count)
        except TimeoutError:
            raise TimeoutError(f"{len(self.received)} callback(s) arrived, expected {count}") from None
        return list(self.received)

    def for_checkout(self, checkout_request_id: str) -> list[ReceivedCallback]:
        return [callback for callback in self.received if _checkout_id(callback) == checkout_request_id]

    async def wait_for_checkout(
        self,
        checkout_request_id: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 (same API as wait_for)
    ) -> list[ReceivedCallback]:
        """Wait for `count` callbacks about one CheckoutRequestID (for a sink shared by several pushes)."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: len(self.for_checkout(checkout_request_id)) >= count)
        except TimeoutError:
            arrived = len(self.for_checkout(checkout_request_id))
            raise TimeoutError(f"{arrived} callback(s) for {checkout_request_id}, expected {count}") from None
        return self.for_checkout(checkout_request_id)


def _checkout_id(callback: ReceivedCallback) -> str | None:
    try:
        return str(callback.json["Body"]["stkCallback"]["CheckoutRequestID"])
    except (KeyError, TypeError):
        return None


@contextlib.asynccontextmanager
async def running_callback_sink() -> AsyncIterator[CallbackSink]:
    """A receiver on loopback that records every POST (any path) and answers 200 Accepted."""
    sink = CallbackSink()

    @post("/{path:path}", status_code=200)
    async def receive(request: Request[Any, Any, Any], path: FromPath[str]) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = await request.json()
        except ValueError:
            body = None
        await sink.record(
            ReceivedCallback(
                path=request.url.path,
                query=request.url.query or "",
                headers=dict(request.headers),
                raw=raw,
                json=body,
            )
        )
        return {"ResultCode": 0, "ResultDesc": "Accepted"}

    async with serving(Litestar([receive], openapi_config=None)) as server:
        sink.url = f"{server.base_url}/callbacks/stk"
        yield sink


@pytest.fixture
async def callback_sink() -> AsyncIterator[CallbackSink]:
    async with running_callback_sink() as sink:
        yield sink
