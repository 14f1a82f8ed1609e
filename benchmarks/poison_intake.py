"""Honest callback intake beside senders of callbacks no database can store as sent.

    .venv/bin/python benchmarks/poison_intake.py [--database sqlite|postgresql] [--duration 8] [--senders 16]

The relay runs as in benchmarks/relay_bench.py (its own process, uvloop + httptools). 16 honest senders
post paid callbacks for registered payments, beside 16 other senders posting callbacks for unregistered
ids: first clean ones, then poison ones whose ResultDesc holds a lone surrogate (`\\ud800`, refused by
both databases' drivers) and a NUL (PostgreSQL text refuses it). Before the relay fitted such values to
what it stores, one of them failed its whole group-commit batch and sent every callback in it into
one-by-one retries. When a poison callback costs only itself, the two runs match. The load comes from
one Python process: on a busy machine the client, not the relay, may be what limits the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import relay_bench  # noqa: E402

from relay.simulate import stk_callback_bytes  # noqa: E402

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SENDERS = 16
PER_SENDER = 20_000


def extra_body(index: int, poison: bool) -> bytes:
    body = json.loads(stk_callback_bytes(f"ws_CO_EXTRA_{index}", amount=10))
    if poison:
        body["Body"]["stkCallback"]["ResultDesc"] = "bad \ud800 and \x00 text"
    return json.dumps(body).encode()


async def run_load(
    base_url: str, path: str, duration_s: float, extra: int, poison: bool
) -> tuple[float, float]:
    """(honest callbacks/s, all acknowledged callbacks/s)."""
    stop_at = time.monotonic() + duration_s
    honest_done = 0
    extra_done = 0
    limits = httpx.Limits(max_connections=SENDERS + extra)

    async def honest(sender: int, client: httpx.AsyncClient) -> None:
        nonlocal honest_done
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            body = stk_callback_bytes(f"ws_CO_BENCH_{sender}_{n}", amount=10, phone=relay_bench.PHONE)
            answer = await client.post(path, content=body)
            if answer.status_code == 200:
                honest_done += 1

    async def other(sender: int, client: httpx.AsyncClient) -> None:
        nonlocal extra_done
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            answer = await client.post(path, content=extra_body(sender * PER_SENDER + n, poison))
            if answer.status_code == 200:
                extra_done += 1

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        started = time.monotonic()
        await asyncio.gather(
            *(honest(s, client) for s in range(1, SENDERS + 1)),
            *(other(s, client) for s in range(extra)),
        )
        elapsed = time.monotonic() - started
    return honest_done / elapsed, (honest_done + extra_done) / elapsed


async def pg_database() -> tuple[str, str]:
    import asyncpg

    name = f"relay_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_pg_database(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_SERVER)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def measure(database: str, duration_s: float, extra: int, poison: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        pg_name = None
        if database == "postgresql":
            pg_name, url = asyncio.run(pg_database())
        else:
            url = f"sqlite+aiosqlite:///{tmp}/relay.db"
        try:
            _key, path = asyncio.run(relay_bench.prepare_relay(url, SENDERS, 2_000))
            process, port = relay_bench.start_server("relay", url)
            try:
                return asyncio.run(run_load(f"http://127.0.0.1:{port}", path, duration_s, extra, poison))
            finally:
                relay_bench.stop_server(process)
        finally:
            if pg_name is not None:
                asyncio.run(drop_pg_database(pg_name))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--senders", type=int, default=SENDERS)
    args = parser.parse_args()
    for poison in (False, True):
        honest, everything = measure(args.database, args.duration, args.senders, poison)
        kind = "poison" if poison else "clean"
        print(
            f"{args.database}: honest callbacks/s beside {args.senders} {kind} senders {honest:.0f} "
            f"(all acknowledged {everything:.0f}/s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
