"""One simulator shared by a module's stateless tests (each uvicorn start/stop costs ~0.2 s).

Tests that use `shared_simulator` must run in the module's loop: mark them
`@pytest.mark.asyncio(loop_scope="module")`, and never rely on its log or on what other tests pushed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from daraja_core.serve import serving
from daraja_core.simulator import create_app
from tests.simulator.c2b_receiver import C2BReceiver, running_c2b_receiver
from tests.simulator.daraja_calls import FakeClock
from tests.support.simulator_fixtures import (
    TEST_SIMULATOR_SETTINGS,
    CallbackSink,
    RunningSimulator,
    running_callback_sink,
)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_simulator() -> AsyncIterator[RunningSimulator]:
    async with serving(create_app(TEST_SIMULATOR_SETTINGS), timeout_graceful_shutdown=1) as server:
        yield RunningSimulator(base_url=server.base_url, settings=TEST_SIMULATOR_SETTINGS)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_callback_sink() -> AsyncIterator[CallbackSink]:
    """Shared: wait with `wait_for_checkout(id)`, never on the total count."""
    async with running_callback_sink() as sink:
        yield sink


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def clocked_simulator(shared_clock: FakeClock) -> AsyncIterator[RunningSimulator]:
    """Shared, on `shared_clock`: only ever move the clock forward."""
    app = create_app(TEST_SIMULATOR_SETTINGS, clock=shared_clock)
    async with serving(app, timeout_graceful_shutdown=1) as server:
        yield RunningSimulator(base_url=server.base_url, settings=TEST_SIMULATOR_SETTINGS)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[C2BReceiver]:
    """A merchant's C2B validation and confirmation endpoints on loopback, recording every POST."""
    async with running_c2b_receiver() as running:
        yield running
