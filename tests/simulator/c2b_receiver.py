"""A merchant's C2B endpoints on loopback: records every validation and confirmation POST the simulator
makes, answers validation as told (docs/daraja.md §6), and helpers to wait on the simulator's C2B log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Litestar, Request, post

from daraja_core.serve import serving
from tests.simulator.daraja_calls import bearer, daraja_client, token
from tests.support.simulator_fixtures import RunningSimulator

ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}


@dataclass
class C2BPost:
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class C2BReceiver:
    base_url: str = ""
    received: list[C2BPost] = field(default_factory=list)
    #: What /c2b/validation answers.
    validation_answer: dict[str, Any] = field(default_factory=lambda: dict(ACCEPT))
    #: Set: /c2b/validation answers at once; cleared: it holds its answer until set (a slow merchant).
    validation_released: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def confirmation_url(self) -> str:
        return f"{self.base_url}/c2b/confirmation"

    @property
    def validation_url(self) -> str:
        return f"{self.base_url}/c2b/validation"

    def posts(self, kind: str, trans_id: str | None = None) -> list[C2BPost]:
        return [
            post
            for post in self.received
            if post.path == f"/c2b/{kind}" and (trans_id is None or post.json.get("TransID") == trans_id)
        ]

    async def record(self, received: C2BPost) -> None:
        async with self._arrived:
            self.received.append(received)
            self._arrived.notify_all()

    async def wait_for(self, kind: str, count: int = 1, timeout_s: float = 5.0) -> list[C2BPost]:
        try:
            async with asyncio.timeout(timeout_s), self._arrived:
                await self._arrived.wait_for(lambda: len(self.posts(kind)) >= count)
        except TimeoutError:
            raise TimeoutError(f"{len(self.posts(kind))} {kind} POST(s), expected {count}") from None
        return self.posts(kind)


@contextlib.asynccontextmanager
async def running_c2b_receiver() -> AsyncIterator[C2BReceiver]:
    receiver = C2BReceiver()
    receiver.validation_released.set()

    @post("/c2b/validation", status_code=200)
    async def validation(request: Request[Any, Any, Any]) -> dict[str, Any]:
        await receiver.record(C2BPost(request.url.path, dict(request.headers), await request.json()))
        await receiver.validation_released.wait()
        return receiver.validation_answer

    @post("/c2b/confirmation", status_code=200)
    async def confirmation(request: Request[Any, Any, Any]) -> dict[str, Any]:
        await receiver.record(C2BPost(request.url.path, dict(request.headers), await request.json()))
        return {"ResultCode": 0, "ResultDesc": "Success"}

    async with serving(Litestar([validation, confirmation], openapi_config=None)) as server:
        receiver.base_url = server.base_url
        try:
            yield receiver
        finally:
            receiver.validation_released.set()


async def wait_for_c2b_payment(sim: RunningSimulator, timeout_s: float = 5.0) -> dict[str, Any]:
    """The simulator's log entry that ends the first C2B payment (all its POSTs are over by then)."""
    async with asyncio.timeout(timeout_s):
        while True:
            for entry in (await sim.log())["c2b"]:
                if entry["kind"] == "payment":
                    return dict(entry)
            await asyncio.sleep(0.02)


async def register(
    sim: RunningSimulator,
    receiver: C2BReceiver,
    *,
    shortcode: str = "174379",
    version: str = "v2",
    response_type: str = "Completed",
) -> httpx.Response:
    """Register `receiver`'s URLs for `shortcode` on the simulator, as a till would (§6)."""
    async with daraja_client(sim.base_url) as client:
        return await client.post(
            f"/mpesa/c2b/{version}/registerurl",
            json={
                "ShortCode": shortcode,
                "ResponseType": response_type,
                "ConfirmationURL": receiver.confirmation_url,
                "ValidationURL": receiver.validation_url,
            },
            headers=bearer(await token(client)),
        )
