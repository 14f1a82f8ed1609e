"""Run an ASGI app under uvicorn inside the running asyncio loop, on a loopback port.

Used by demo mode (the simulator and the embedded relay live in the till's own loop), by the tests
(real HTTP on loopback) and by the benchmarks. Port 0 picks a free port; `base_url` tells which.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from daraja_core.bounded_httptools import MAX_REQUEST_HEAD_BYTES


def bounded_http_options() -> dict[str, Any]:
    """uvicorn options that bound every request's line and headers, whichever HTTP parser is present."""
    options: dict[str, Any] = {"h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES}
    if importlib.util.find_spec("httptools") is not None:
        from daraja_core.bounded_httptools import BoundedHttpToolsProtocol

        options["http"] = BoundedHttpToolsProtocol
    return options


class _QuietServer(uvicorn.Server):
    """A server that leaves SIGINT/SIGTERM to its host program (the till, a test, a benchmark)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        # uvicorn's own loop notices `should_exit` only on its 0.1 s tick; waking on an event makes a
        # stop take milliseconds (tests and demo shutdown start and stop many servers). on_tick still
        # runs every 0.1 s: it keeps the Date header current, which the till's clock-skew check reads.
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exit_requested.wait(), 0.1)
            should_exit = await self.on_tick(counter)


class BackgroundServer:
    """An in-loop uvicorn server: `await start()`, use `base_url`, `await stop()`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any) -> None:
        self._app = app
        self.host = host
        self._requested_port = port
        self._options = {
            "log_level": "warning",
            "access_log": False,
            "lifespan": "on",
            **bounded_http_options(),
            **uvicorn_options,
        }
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.port = port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
        # without it every keep-alive request waits ~44 ms (Nagle meets delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, **self._options)
        server = _QuietServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn:{self.port}")
        while not server.started:
            if self._task.done():
                self._task.result()  # raises the start-up error
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        self._server.exit_requested.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = None
        self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None


@contextlib.asynccontextmanager
async def serving(
    app: Any, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> AsyncIterator[BackgroundServer]:
    server = BackgroundServer(app, host, port, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
