"""Fixtures that run the relay under uvicorn on a loopback port.

`relay_server`: a relay with a SQLite file in tmp_path. `relay_factory(**settings)`: the same with
RelaySettings overrides (`database_url=` a PostgreSQL URL, `admin_token=`, `ip_allowlist_enabled=`…);
call it several times for several instances. Each yields a `RunningRelay`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from litestar import Litestar

from daraja_core.serve import BackgroundServer
from relay.app import Relay, create_app, release_waiters
from relay.db import Database
from relay.migrate import upgrade
from relay.models import utcnow
from relay.notify import Hub
from relay.settings import RelaySettings
from relay.tills import create_till_key


class RunningRelay:
    """A relay app served on 127.0.0.1; `restart()` stops it and starts a new app on the same port."""

    def __init__(self, settings: RelaySettings, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self._server: BackgroundServer | None = None
        self._app: Litestar | None = None
        self._port = 0

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the relay is not running"
        return self._server.base_url

    async def start(self) -> None:
        # proxy_headers off, as in `mpesa-relay serve`: the relay itself decides whom to believe.
        self._app = create_app(self.settings, clock=self.clock)
        server = BackgroundServer(self._app, "127.0.0.1", self._port, proxy_headers=False)
        await server.start()
        self._server = server
        self._port = server.port

    async def stop(self) -> None:
        """Stops at once: open long-polls are answered with their current status first."""
        if self._app is not None:
            release_waiters(self._app)
        if self._server is not None:
            await self._server.stop()
            self._server = None

    @property
    def service(self) -> Relay:
        """The running relay's service object (relay/service.py): its writer, database, hub."""
        assert self._app is not None, "the relay is not running"
        relay: Relay = self._app.state.relay
        return relay

    @property
    def hub(self) -> Hub:
        """Where this relay's long-polls wait, with its counters of wakes and re-reads (relay/notify.py)."""
        assert self._app is not None, "the relay is not running"
        relay: Relay = self._app.state.relay
        return relay.hub

    async def long_polls_waiting(self, count: int, timeout_s: float = 10.0) -> None:
        """Wait until `count` long-polls are parked in this relay, waiting for a commit (relay/notify.py)."""
        assert self._app is not None, "the relay is not running"
        relay: Relay = self._app.state.relay
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout_s
        while relay.hub.waiting() < count:
            if loop.time() > give_up:
                raise TimeoutError(f"{relay.hub.waiting()} long-poll(s) waiting, expected {count}")
            await asyncio.sleep(0.01)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def create_till(self, name: str) -> tuple[str, str]:
        """A new till key for `name`: (key, callback_path)."""
        await upgrade(self.database_url)
        db = Database(self.database_url)
        try:
            till, key = await db.write(lambda connection: create_till_key(connection, name))
        finally:
            await db.dispose()
        return key, till.callback_path


RelayFactory = Callable[..., Awaitable[RunningRelay]]


@pytest_asyncio.fixture
async def relay_factory(tmp_path: Path) -> AsyncIterator[RelayFactory]:
    started: list[RunningRelay] = []

    async def make(clock: Callable[[], datetime] = utcnow, **overrides: Any) -> RunningRelay:
        settings = RelaySettings(
            **{"database_url": f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", **overrides}
        )
        relay = RunningRelay(settings, clock)
        await relay.start()
        started.append(relay)
        return relay

    yield make
    for relay in reversed(started):
        with contextlib.suppress(Exception):
            await relay.stop()


@pytest_asyncio.fixture
async def relay_server(relay_factory: RelayFactory) -> RunningRelay:
    return await relay_factory()


__all__ = ["RelayFactory", "RunningRelay", "relay_factory", "relay_server"]
