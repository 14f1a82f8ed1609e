"""Hostile input over real HTTP: every endpoint of the OpenAPI schema fuzzed, callback bodies of every
shape, and slow clients trickling bodies in byte by byte. Never a 5xx with storage up; never a payment
marked paid by garbage; an honest callback is still acknowledged promptly while slow clients hang on.

The relay serves in the test's loop; hypothesis drives a blocking client from a worker thread.
benchmarks/fuzz_relay.py runs the same strategies many more times, with the relay's memory measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from daraja_core.bounded_httptools import BoundedHttpToolsProtocol
from relay.api import bodies
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
    monkeypatch.setattr(bodies, "BODY_TIMEOUT_S", 0.3)
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


# The till API's POSTs, which read their bodies through Litestar (relay/api/bodies.py `api_body`).
API_POSTS = ["/api/v1/payments", "/api/v1/orphans", "/api/v1/c2b/TX1/claim", "/api/v1/c2b/TX1/release"]


async def trickle_body(
    base_url: str, path: str, key: str, started: asyncio.Queue[None]
) -> tuple[bytes, bool]:
    """A POST whose head comes whole and whose body (400 bytes announced) then comes one byte every 50 ms,
    for as long as the relay has not answered (at most 20 s): what the relay answered, and whether it then
    closed the connection. `started` hears once the first body byte is sent."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n"
        "content-type: application/json\r\ncontent-length: 400\r\n\r\n"
    )
    answer = asyncio.create_task(reader.read(65536))
    try:
        # ConnectionError: the relay answered and hung up while a byte was on its way.
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode())
            for sent in range(400):
                writer.write(b" ")
                await writer.drain()
                if sent == 0:
                    started.put_nowait(None)
                await asyncio.wait([answer], timeout=0.05)
                if answer.done():
                    break
        data = await answer
        # A reset after the answer is a closed connection all the same.
        with contextlib.suppress(ConnectionError):
            while more := await asyncio.wait_for(reader.read(65536), 5):
                data += more
        return data, True
    except TimeoutError:
        return data, False
    finally:
        answer.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def status_line_and_headers(answer: bytes) -> tuple[bytes, set[bytes]]:
    head = answer.split(b"\r\n\r\n")[0].split(b"\r\n")
    return head[0], {line.lower() for line in head[1:]}


async def test_a_till_api_post_trickling_its_body_is_answered_408_and_cut_off(
    relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies, "BODY_TIMEOUT_S", 0.3)
    relay, key, _, _ = await fuzzed_relay(relay_factory)
    started: asyncio.Queue[None] = asyncio.Queue()
    answers = await asyncio.wait_for(
        asyncio.gather(*(trickle_body(relay.base_url, path, key, started) for path in API_POSTS)), 10
    )
    for answer, closed in answers:
        status, headers = status_line_and_headers(answer)
        assert (status, b"connection: close" in headers, closed) == (
            b"HTTP/1.1 408 Request Timeout",
            True,
            True,
        )
    # The detail says why, on a connection that stops sending (no reset can race the answer).
    host, port = relay.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"POST /api/v1/payments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n"
        "content-length: 400\r\n\r\n{".encode()
    )
    answer = await asyncio.wait_for(reader.read(), 5)  # to the end: the relay hangs up
    writer.close()
    assert answer.split(b"\r\n\r\n", 1)[1] == (
        b'{"status_code":408,"detail":"the request body took over 0.3 s to arrive"}'
    )


async def test_till_api_posts_trickling_their_bodies_do_not_hold_up_an_honest_request(
    relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies, "BODY_TIMEOUT_S", 3.0)
    relay, key, _, _ = await fuzzed_relay(relay_factory)
    started: asyncio.Queue[None] = asyncio.Queue()
    slow = [
        asyncio.create_task(trickle_body(relay.base_url, API_POSTS[n % 4], key, started)) for n in range(20)
    ]
    try:
        for _ in slow:  # every slow client is sending its body
            await asyncio.wait_for(started.get(), timeout=10)
        assert not any(task.done() for task in slow)
        async with httpx.AsyncClient(base_url=relay.base_url, timeout=10) as client:
            honest = await client.post(
                "/api/v1/payments", json=registration("o2", "ws_CO_2", 5), headers=auth(key)
            )
        held = sum(not task.done() for task in slow)
        answers = await asyncio.wait_for(asyncio.gather(*slow), 10)  # each cut off by its deadline
    finally:
        for task in slow:
            task.cancel()
    assert (honest.status_code, honest.json()["status"], held) == (200, "pending", 20)
    assert {(status_line_and_headers(answer)[0], closed) for answer, closed in answers} == {
        (b"HTTP/1.1 408 Request Timeout", True)
    }


async def test_a_till_api_body_over_4_kib_is_refused_with_413(relay_factory: RelayFactory) -> None:
    relay, key, _, _ = await fuzzed_relay(relay_factory)
    limit = bodies.API_BODY_MAX_BYTES
    assert limit == 4096

    def padded(body: dict[str, Any], size: int) -> bytes:
        text = json.dumps(body).encode()
        return text + b" " * (size - len(text))  # JSON whitespace: a valid body, just long

    since, until = "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"
    search = {"amount_kes": 5, "phone": "254708374149", "since": since, "until": until}
    bodies_by_path = {
        "/api/v1/payments": registration("o3", "ws_CO_3", 5),
        "/api/v1/orphans": search,
        "/api/v1/c2b/TX1/claim": {"order_id": "o3"},
        "/api/v1/c2b/TX1/release": {"released_by": "owner"},
    }
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=10) as client:
        over = [
            await client.post(path, content=padded(body, limit + 1), headers=auth(key))
            for path, body in bodies_by_path.items()
        ]
        at_limit = await client.post(
            "/api/v1/payments", content=padded(registration("o3", "ws_CO_3", 5), limit), headers=auth(key)
        )
    assert [(answer.status_code, answer.json()["detail"]) for answer in over] == [
        (413, "the request body is over 4096 bytes")
    ] * 4
    assert at_limit.status_code == 200


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


async def test_a_feed_cursor_past_any_seq_is_an_empty_page_on_both_databases(
    relay_factory: RelayFactory, any_database: str
) -> None:
    # The feed read went to the driver with its cursor as a 32-bit parameter on PostgreSQL: 500 at 2**31.
    relay = await relay_factory(database_url=any_database)
    key, _ = await relay.create_till("front")
    async with httpx.AsyncClient(base_url=relay.base_url, timeout=10) as client:
        answers = [
            await client.get(f"/api/v1/results?after={after}", headers=auth(key))
            for after in (2**31 - 1, 2**31, 2**62)
        ]
    assert [(answer.status_code, answer.json()["items"]) for answer in answers] == [(200, [])] * 3
