"""`create_app(settings)`: the relay's Litestar application (HTTP contract in docs/architecture.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from relay.api.bodies import API_BODY_MAX_BYTES
from relay.api.c2b import C2bController, c2b_callback
from relay.api.callbacks import seed_path_callback, tokenised_callback
from relay.api.ops import OpsController
from relay.api.till import TillController
from relay.models import utcnow
from relay.service import Relay
from relay.settings import RelaySettings

__all__ = ["Relay", "create_app", "release_waiters"]


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
        route_handlers=[
            tokenised_callback,
            seed_path_callback,
            c2b_callback,
            TillController,
            C2bController,
            OpsController,
        ],
        lifespan=[lifespan],
        state=State({"relay": relay}),
        # The till API's bound (relay/api/bodies.py, whose `api_body` reads its handlers' bodies) for any body
        # Litestar would parse itself; Safaricom's callbacks are read raw, up to settings.max_body_bytes.
        request_max_body_size=API_BODY_MAX_BYTES,
        # The contract (daraja_core/contract.py) as JSON at /schema/openapi.json; no UI, no auth needed.
        openapi_config=OpenAPIConfig(
            title="M-Pesa relay", version="1", path="/schema", render_plugins=[JsonRenderPlugin()]
        ),
        # The host program (uvicorn, the till) owns logging; Litestar must not reconfigure the root logger.
        logging_config=None,
    )
