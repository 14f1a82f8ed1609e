"""Hostile input over real HTTP: every endpoint of the OpenAPI schema fuzzed, callback bodies of every
shape, and slow clients trickling bodies in byte by byte. Never a 5xx with storage up; never a payment
marked paid by garbage; an honest callback is still acknowledged promptly while slow clients hang on.

The relay serves in the test's loop; hypothesis drives a blocking client from a worker thread.
benchmarks/fuzz_relay.py runs the same strategies many more times, with the relay's memory measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from daraja_core.bounded_httptools import BoundedHttpToolsProtocol
from relay.api import callbacks
from relay.simulate import stk_callback_bytes
from tests.relay.conftest import auth, registration
from tests.relay.fuzz_support import FUZZ_AMOUNT, FUZZ_CHECKOUT_ID, Probe, api_probes, callback_bodies
from tests.support.relay_fixtures import RelayFactory, RunningRelay

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"


async def fuzzed_relay(
    relay_factory: RelayFactory, database_url: str | None = None
) -> tuple[RunningRelay, str, str, dict[str, Any]]:
    """A relay (long-polls capped short, so fuzzed `wait=` values do not hold examples), a till with one
    pending payment, its callback path, and the served OpenAPI schema."""
    extra = {} if database_url is None else {"database_url": database_url}
    relay = await relay_factory(long_poll_max_s=0.05, **extra)
    key, path = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        registered = await client.post(
            "/api/v1/payments", json=registration("fuzz", FUZZ_CHECKOUT_ID, FUZZ_AMOUNT), headers=auth(key)
        )
        assert registered.status_code == 200
        schema = (await client.get("/schema/openapi.json")).json()
    return relay, key, path, schema


def status_of(client: httpx.Client, key: str) -> str:
    answer = client.get("/api/v1/payments/fuzz/status", headers=auth(key))
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


async def test_every_endpoint_of_the_openapi_schema_fuzzed_never_answers_5xx(
    relay_factory: RelayFactory, any_database: str
) -> None:
    relay, key, _, schema = await fuzzed_relay(relay_factory, any_database)
    operations = {(method, path) for path, methods in schema["paths"].items() for method in methods}
    assert len(operations) >= 12
    seen: set[str] = set()

    def fuzz() -> None:
        with httpx.Client(base_url=relay.base_url, timeout=10) as client:

            @EXAMPLES
            @given(api_probes(schema, [key]))
            def probe(request: Probe) -> None:
                answer = client.request(
                    request.method, request.url, headers=request.headers, content=request.body
                )
                seen.add(
                    request.url.split("?")[0].split("/")[3] if request.url.count("/") > 2 else request.url
                )
                assert answer.status_code < 500, (answer.status_code, answer.text[:300])

            probe()
            assert status_of(client, key) == "pending"

    await asyncio.to_thread(fuzz)
    assert len(seen) >= 5


async def test_callback_bodies_of_every_shape_never_fail_and_never_pay(relay_factory: RelayFactory) -> None:
    relay, key, path, _ = await fuzzed_relay(relay_factory)
    limit = relay.settings.max_body_bytes

    def fuzz() -> None:
        with httpx.Client(base_url=relay.base_url, timeout=30) as client:

            @EXAMPLES
            @given(callback_bodies(limit))
            def probe(body: bytes) -> None:
                for target in (path, "/api/v1/payments/mpesa/callback"):
                    answer = client.post(target, content=body, headers={"content-type": "application/json"})
                    assert answer.status_code == (413 if len(body) > limit else 200), answer.text[:300]
                assert status_of(client, key) == "pending"

            probe()

    await asyncio.to_thread(fuzz)


async def trickle(
    base_url: str, path: str, give_up: asyncio.Event, mid_request: asyncio.Queue[None] | None = None
) -> bytes:
    """A POST whose head and body come one byte at a time, a little apart, until `give_up` or the relay
    answers: what the relay answered (b"" if nothing, or if it hung up without a word). Once the relay has
    the first bytes, `mid_request` (when given) hears of it."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = stk_callback_bytes(FUZZ_CHECKOUT_ID, result_code=1032)
    request = (
        f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    answer = asyncio.create_task(reader.read(200))
    stop = asyncio.create_task(give_up.wait())
    try:
        for sent, byte in enumerate(request):
            if give_up.is_set() or answer.done():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            if sent == 8 and mid_request is not None:
                mid_request.put_nowait(None)
            await asyncio.wait([answer, stop], timeout=0.05)
        if not answer.done():
            answer.cancel()
            return b""
        return answer.result()
    except ConnectionError:
        if answer.done() and not answer.cancelled() and answer.exception() is None:
            return answer.result()
        return b""
    finally:
        for task in (answer, stop):
            task.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_slow_clients_trickling_bodies_do_not_hold_up_an_honest_callback(
    relay_factory: RelayFactory,
) -> None:
    relay, key, path, _ = await fuzzed_relay(relay_factory)
    give_up = asyncio.Event()
    mid_request: asyncio.Queue[None] = asyncio.Queue()
    slow = [asyncio.create_task(trickle(relay.base_url, path, give_up, mid_request)) for _ in range(50)]
    try:
        for _ in slow:  # every slow client is connected and mid-request
            await asyncio.wait_for(mid_request.get(), timeout=10)
        assert not any(task.done() for task in slow)
        async with httpx.AsyncClient(base_url=relay.base_url, timeout=10) as client:
            started = time.perf_counter()
            answer = await client.post(path, content=stk_callback_bytes(FUZZ_CHECKOUT_ID, amount=FUZZ_AMOUNT))
            took = time.perf_counter() - started
            status = (await client.get("/api/v1/payments/fuzz/status", headers=auth(key))).json()["status"]
    finally:
        give_up.set()
        await asyncio.gather(*slow)
    assert (answer.status_code, status) == (200, "completed")
    assert took < 2.0


async def test_a_client_trickling_its_head_or_body_is_cut_off_and_answered_408(
    relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BoundedHttpToolsProtocol, "head_timeout_s", 0.3)
    monkeypatch.setattr(callbacks, "BODY_TIMEOUT_S", 0.3)
    relay, _, path, _ = await fuzzed_relay(relay_factory)
    host, port = relay.base_url.removeprefix("http://").split(":")
    heads = [
        b"",  # connects and says nothing
        b"POST " + path.encode() + b" HTTP/1.1\r\nhost: x\r\n",  # a head never finished
        b"POST " + path.encode() + b" HTTP/1.1\r\nhost: x\r\ncontent-length: 400\r\n\r\n{",  # a body never
    ]
    answers = []
    for head in heads:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head)
        answers.append(await asyncio.wait_for(reader.read(200), 5))  # the relay answers and hangs up
        writer.close()
    assert [answer.split(b"\r\n")[0] for answer in answers] == [b"HTTP/1.1 408 Request Timeout"] * 3


async def test_identifiers_a_database_cannot_hold_are_refused_with_400_on_both_databases(
    relay_factory: RelayFactory, any_database: str
) -> None:
    relay = await relay_factory(database_url=any_database)
    key, _ = await relay.create_till("front")
    long_id = "ws_CO_" + "9" * 150
    reads = ["/api/v1/payments/%00/status", "/api/v1/receipts/a%00b", f"/api/v1/selftest/x%00{long_id}"]
    registrations = [
        registration("o\x00", "ws_CO_1", 10),
        registration("o", "ws_CO_\x00", 10),
        registration("o" * 121, "ws_CO_2", 10),
        registration("o", long_id, 10),
        registration("o", "ws_CO_3", 2**31),
        registration("o", "ws_CO_4", 2**63),
    ]
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=10) as client:
        read_answers = [(await client.get(url, headers=auth(key))).status_code for url in reads]
        posts = [
            await client.post("/api/v1/payments", json=body, headers=auth(key)) for body in registrations
        ]
        claims = [
            await client.post("/api/v1/c2b/T%00X/claim", json={"order_id": "s1"}, headers=auth(key)),
            await client.post("/api/v1/c2b/TX/claim", json={"order_id": "s\x00"}, headers=auth(key)),
            await client.post("/api/v1/c2b/T%00X/release", json={}, headers=auth(key)),
        ]
    assert read_answers == [400, 400, 400]
    assert [answer.status_code for answer in posts] == [400] * len(registrations), [a.text for a in posts]
    assert [answer.status_code for answer in claims] == [400] * 3, [a.text for a in claims]
