"""`mpesa-relay serve` as the operator runs it: its own process, real HTTP on loopback, a SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from relay.cli import main
from relay.db import Database
from relay.models import raw_table
from tests.relay.conftest import auth
from tests.support.relay_fixtures import RunningRelay

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """(process, base URL, till key) of `mpesa-relay serve` on a free loopback port."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert main(["create-till-key", "front"], out=out, err=io.StringIO()) == 0
    key = out.getvalue().strip().splitlines()[-1]
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from relay.cli import main; raise SystemExit(main())",
            "serve",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        yield process, f"http://127.0.0.1:{port}", key
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


async def wait_until_up(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(300):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("mpesa-relay serve did not come up")


async def test_stopping_serve_answers_open_long_polls_and_logs_no_error(
    served: tuple[subprocess.Popen[bytes], str, str],
) -> None:
    process, base_url, key = served
    await wait_until_up(base_url)
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base_url, timeout=40, limits=limits) as client:
        polls = [
            asyncio.create_task(client.get("/api/v1/results?after=0&wait=30", headers=auth(key)))
            for _ in range(40)
        ]
        await asyncio.sleep(1.0)
        assert not any(poll.done() for poll in polls)
        process.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(*polls)
    _, stderr = process.communicate(timeout=30)
    log = stderr.decode()
    assert [(answer.status_code, answer.json()["items"]) for answer in answers] == [(200, [])] * 40
    assert "CancelledError" not in log
    assert '"level":"error"' not in log
    assert "Application shutdown complete" in log


async def test_a_405_on_a_callback_path_names_the_allowed_method(relay_server: RunningRelay) -> None:
    _, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        answers = [await client.request(method, path) for method in ("GET", "PUT")]
        answers.append(await client.get("/api/v1/payments/mpesa/callback"))
    assert [(answer.status_code, answer.headers.get("allow")) for answer in answers] == [(405, "POST")] * 3


async def raw_exchange(base_url: str, head: bytes) -> bytes:
    """Send a request head (and no body) on a fresh connection; the answer, or b"" if the relay hung up."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await reader.read(200)
    except ConnectionError:
        return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_an_oversized_request_head_is_refused_before_it_is_read_whole(
    relay_server: RunningRelay,
) -> None:
    _, path = await relay_server.create_till("front")
    body = b'{"Body": {}}'
    tail = b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    many_headers = b"".join(b"x-junk-%d: %s\r\n" % (n, b"a" * 8000) for n in range(100))
    answers = [
        await raw_exchange(
            relay_server.base_url,
            b"POST " + path.encode() + b" HTTP/1.1\r\nhost: x\r\n" + many_headers + tail,
        ),
        await raw_exchange(
            relay_server.base_url,
            b"POST " + path.encode() + b"?" + b"q" * 1_000_000 + b" HTTP/1.1\r\nhost: x\r\n" + tail,
        ),
        await raw_exchange(
            relay_server.base_url,
            b"POST " + path.encode() + b" HTTP/1.1\r\nhost: x\r\nx-one: " + b"v" * 1_000_000 + b"\r\n" + tail,
        ),
    ]
    for answer in answers:
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
    assert any(answer.startswith(b"HTTP/1.1 431 ") for answer in answers)
    db = Database(relay_server.database_url)
    try:
        stored = await db.read(
            lambda c: c.execute(sa.select(sa.func.count()).select_from(raw_table)).scalar_one()
        )
    finally:
        await db.dispose()
    assert stored == 0
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        assert (await client.get("/healthz")).status_code == 200


async def test_only_a_bounded_allow_list_of_headers_is_kept_with_a_callback(
    relay_server: RunningRelay,
) -> None:
    _, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        answer = await client.post(
            path,
            content=b"{}",
            headers={
                "Content-Type": "application/json;charset=UTF-8",
                "Businessshortcode": "174379",
                "User-Agent": "u" * 5000,
                "X-Junk": "j" * 5000,
                "Cookie": "session=secret",
            },
        )
    assert answer.status_code == 200
    db = Database(relay_server.database_url)
    try:
        (headers_text,) = await db.read(lambda c: c.execute(sa.select(raw_table.c.headers)).scalars().all())
    finally:
        await db.dispose()
    headers = json.loads(headers_text)
    assert set(headers) == {"businessshortcode", "content-length", "content-type", "host", "user-agent"}
    assert headers["user-agent"] == "u" * 512


async def test_serve_bounds_the_request_head_too(served: tuple[subprocess.Popen[bytes], str, str]) -> None:
    _, base_url, _ = served
    await wait_until_up(base_url)
    answer = await raw_exchange(
        base_url, b"GET /healthz?" + b"q" * 1_000_000 + b" HTTP/1.1\r\nhost: x\r\n\r\n"
    )
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/healthz")).status_code == 200
