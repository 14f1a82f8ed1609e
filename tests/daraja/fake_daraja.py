"""A scripted Daraja for unit tests over httpx.MockTransport: queue answers per path, see every request."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from pos_app.daraja import DarajaClient, DarajaConfig
from pos_app.daraja.client import OAUTH_PATH, STK_PUSH_PATH, STK_QUERY_PATH

from .payloads import fixture_bytes

OAUTH = OAUTH_PATH
PUSH = STK_PUSH_PATH
QUERY = STK_QUERY_PATH

CONSUMER_KEY = "unit-consumer-key-7Qx"
CONSUMER_SECRET = "unit-consumer-secret-9Zp"
PASSKEY = "unit-passkey-3Kd"

Answer = httpx.Response | Exception | Callable[[httpx.Request], Any]


def answer(name: str, status: int | None = None) -> httpx.Response:
    """A fixture file as Daraja's answer; the HTTP status comes from the `<api>_<status>_…` name."""
    code = status if status is not None else int(name.split("_")[1])
    return httpx.Response(code, content=fixture_bytes(name), headers={"Content-Type": "application/json"})


def token_answer(token: str, expires_in: Any = "3599") -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "expires_in": expires_in})


@dataclass
class FakeDaraja:
    requests: list[httpx.Request] = field(default_factory=list)
    queued: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    tokens_issued: int = 0

    def queue(self, path: str, *answers: Answer) -> None:
        self.queued[path].extend(answers)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path == path]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if self.queued[path]:
            item = self.queued[path].popleft()
            if isinstance(item, Exception):
                raise item
            if isinstance(item, httpx.Response):
                return item
            result = item(request)
            if asyncio.iscoroutine(result):
                result = await result
            assert isinstance(result, httpx.Response)
            return result
        if path == OAUTH:
            self.tokens_issued += 1
            return token_answer(f"token-{self.tokens_issued}")
        if path == PUSH:
            return answer("push_200_accepted.json")
        if path == QUERY:
            return answer("query_200_paid.json")
        return httpx.Response(404)


class FakeClock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = datetime(2026, 11, 21, 22, 30, 5, tzinfo=UTC)
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.mono

    def now(self) -> datetime:
        return self.wall

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.mono += seconds


def make_config(**overrides: Any) -> DarajaConfig:
    values: dict[str, Any] = {
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "shortcode": "174379",
        "passkey": PASSKEY,
    }
    values.update(overrides)
    return DarajaConfig(**values)


def make_client(
    fake: FakeDaraja, clock: FakeClock, config: DarajaConfig | None = None
) -> tuple[DarajaClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
    client = DarajaClient(
        config or make_config(),
        http,
        now=clock.now,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        jitter=lambda: 0.5,
    )
    return client, http
