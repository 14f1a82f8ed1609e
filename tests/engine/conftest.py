"""A till wired to the REAL relay (uvicorn on loopback, `relay_server`) and the REAL Daraja simulator
(`simulator` / `simulator_factory`), with short timings so every scenario runs in seconds.

`RelayGate` is a loopback TCP forwarder in front of the relay: closing it makes the relay unreachable for
the till only (Safaricom's callbacks, i.e. the simulator's, still reach the relay directly), which is the
"relay down" and "relay back later" situations.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE
from daraja_core.simulator.settings import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET
from pos_app.config import TillConfig, Timings
from pos_app.engine.reconciler import FEED_CURSOR_KEY
from pos_app.engine.service import TillService
from pos_app.engine.views import AttemptView
from relay.db import Database
from relay.models import feed_table, raw_table, till_table
from tests.support.relay_fixtures import RunningRelay
from tests.support.simulator_fixtures import RunningSimulator, SimulatorFactory

#: Test timings: the shapes of the production schedule, compressed (pos_app/config.py Timings).
FAST = Timings(
    relay_silence_s=0.6,
    wait_deadline_s=4.0,
    query_first_gap_s=0.3,
    query_growth=1.6,
    query_max_gap_s=1.0,
    query_jitter=0.2,
    reconcile_horizon_s=3600.0,
    reconcile_query_first_s=0.5,
    reconcile_query_max_s=2.0,
    long_poll_s=1.0,
    relay_retry_first_s=0.1,
    relay_retry_max_s=0.4,
    relay_timeout_s=3.0,
    daraja_timeout_s=1.5,
    selftest_wait_s=1.0,
)

PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"
TOKEN_PATH = "/oauth/v1/generate"


class RelayGate:
    """A TCP forwarder on a fixed loopback port that can be closed (relay down) and opened again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, upstream_writer})

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(Exception):
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(upstream_writer)


@dataclass
class Rig:
    simulator: RunningSimulator
    relay: RunningRelay
    relay_key: str
    callback_path: str
    home: Path
    services: list[TillService] = field(default_factory=list)
    gate: RelayGate | None = None

    def config(self, *, timings: Timings = FAST, relay_url: str | None = None, **changes: Any) -> TillConfig:
        base = TillConfig(
            mode="remote",
            home=self.home,
            consumer_key=SIM_CONSUMER_KEY,
            consumer_secret=SIM_CONSUMER_SECRET,
            shortcode=SANDBOX_SHORTCODE,
            passkey=SANDBOX_PASSKEY,
            relay_url=relay_url or (self.gate.url if self.gate else self.relay.base_url),
            relay_key=self.relay_key,
            api_base_url=self.simulator.base_url,
            timings=timings,
        )
        return replace(base, **changes)

    async def open(self, **changes: Any) -> TillService:
        service = await TillService.open(self.config(**changes))
        self.services.append(service)
        return service

    async def gate_relay(self) -> RelayGate:
        host, port = self.relay.base_url.removeprefix("http://").rsplit(":", 1)
        self.gate = RelayGate(host, int(port))
        await self.gate.open()
        return self.gate

    @property
    def callback_url(self) -> str:
        return self.relay.base_url + self.callback_path

    async def daraja_calls(self, checkout_request_id: str | None = None) -> dict[str, int]:
        """STK Push, STK Query and token requests the simulator saw (for one payment when an id is given)."""
        log = await self.simulator.log()
        counts: Counter[str] = Counter()
        for request in log["requests"]:
            path = request["path"]
            if path == TOKEN_PATH:
                counts["tokens"] += 1
            elif path == PUSH_PATH:
                counts["pushes"] += 1
            elif path == QUERY_PATH and checkout_request_id in (None, request.get("checkout_request_id")):
                counts["queries"] += 1
        return {"pushes": counts["pushes"], "queries": counts["queries"], "tokens": counts["tokens"]}

    async def pushed_checkout_ids(self) -> list[str]:
        """The CheckoutRequestIDs of the pushes the simulator accepted, in order (whether or not the till
        heard the answer)."""
        log = await self.simulator.log()
        return [
            r["checkout_request_id"]
            for r in log["requests"]
            if r["path"] == PUSH_PATH and r.get("checkout_request_id")
        ]

    async def callbacks_delivered(
        self, checkout_request_id: str, count: int = 1, timeout_s: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until the simulator has POSTed `count` callbacks for this payment and each POST is over.
        The relay answers only after its commit (relay/intake.py), so what it stored can be read then."""
        delivered: list[dict[str, Any]] = []

        async def done() -> bool:
            log = await self.simulator.log()
            delivered[:] = [c for c in log["callbacks"] if c["checkout_request_id"] == checkout_request_id]
            return len(delivered) >= count

        await eventually(done, timeout_s)
        return delivered

    async def relay_callback_statuses(self, checkout_request_id: str) -> list[str]:
        """What the relay made of each callback it received for this payment (applied, duplicate, orphan…)."""
        db = Database(self.relay.database_url)
        try:
            return await db.read(
                lambda c: list(
                    c.execute(
                        sa.select(raw_table.c.status)
                        .where(raw_table.c.checkout_request_id == checkout_request_id)
                        .order_by(raw_table.c.id)
                    ).scalars()
                )
            )
        finally:
            await db.dispose()

    async def caught_up(self, till: TillService) -> None:
        """Wait until the till has applied every entry of the relay's feed (its stored cursor is past the
        relay's last entry): what the relay passed on has reached the till's store by then."""
        db = Database(self.relay.database_url)
        try:
            token = self.callback_path.rsplit("/", 1)[-1]
            last = await db.read(
                lambda c: c.execute(
                    sa.select(sa.func.max(feed_table.c.seq))
                    .join(till_table, till_table.c.id == feed_table.c.till_id)
                    .where(till_table.c.token == token)
                ).scalar()
            )
        finally:
            await db.dispose()

        async def applied() -> bool:
            return int(await till.store.get_setting(FEED_CURSOR_KEY) or 0) >= (last or 0)

        await eventually(applied)


@pytest.fixture
async def rig(simulator: RunningSimulator, relay_server: RunningRelay, tmp_path: Path) -> AsyncIterator[Rig]:
    key, path = await relay_server.create_till("test-till")
    made = Rig(simulator, relay_server, key, path, tmp_path / "till")
    yield made
    for service in made.services:
        await service.close()
    if made.gate is not None:
        await made.gate.close()


RigFactory = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def rig_factory(
    simulator_factory: SimulatorFactory, relay_server: RunningRelay, tmp_path: Path
) -> AsyncIterator[RigFactory]:
    """A rig whose simulator takes SimulatorSettings overrides (e.g. a longer callback delay)."""
    made: list[Rig] = []

    async def make(**simulator_overrides: Any) -> Rig:
        simulator = await simulator_factory(**simulator_overrides)
        key, path = await relay_server.create_till(f"till-{len(made)}")
        rig = Rig(simulator, relay_server, key, path, tmp_path / f"till-{len(made)}")
        made.append(rig)
        return rig

    yield make
    for rig in made:
        for service in rig.services:
            await service.close()
        if rig.gate is not None:
            await rig.gate.close()


class Recorder:
    """Every announcement a service makes, in order."""

    def __init__(self, service: TillService) -> None:
        self.views: list[AttemptView] = []
        self.unsubscribe = service.subscribe(self.views.append)

    def states(self, attempt_id: str) -> list[str]:
        return [v.state for v in self.views if v.attempt_id == attempt_id]


async def settle(service: TillService, attempt_id: str, timeout_s: float = 15.0) -> AttemptView:
    return await service.wait_settled(attempt_id, timeout_s)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0, interval_s: float = 0.05
) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout_s
    while not await check():
        if loop.time() > give_up:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval_s)
