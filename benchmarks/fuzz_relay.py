"""Hostile input against `mpesa-relay serve` in a process of its own, many more times than the suite runs it.

- callbacks: bodies of every shape (tests/relay/fuzz_support.py `callback_bodies`: wrong types, NUL bytes,
  duplicated keys, absurd amounts, deep nesting, sizes around the limit) on the tokenised and the seed path.
  Counts answers by status, any 5xx, the largest body acknowledged, and whether the one pending payment they
  all name was ever marked paid (it must not be).
- api: every operation of the relay's OpenAPI schema with fuzzed parameters, bodies and keys; any 5xx.
- slow: many connections trickling a callback a byte at a time; an honest callback's latency meanwhile,
  and how many slow ones the relay cut off (408) within its head/body deadline.
- memory: the relay's resident set at start and its peak (VmHWM) at the end.

Run: `.venv/bin/python benchmarks/fuzz_relay.py [--examples 3000] [--slow 300] [--pg-url postgresql+asyncpg://…]`.
Prints a summary and writes benchmarks/results/fuzz_relay.json (one entry per database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relay.db import Database  # noqa: E402
from relay.migrate import upgrade  # noqa: E402
from relay.simulate import stk_callback_bytes  # noqa: E402
from relay.tills import create_till_key  # noqa: E402
from tests.relay.drill_support import RelayProcess  # noqa: E402
from tests.relay.fuzz_support import (  # noqa: E402
    FUZZ_AMOUNT,
    FUZZ_CHECKOUT_ID,
    Probe,
    api_probes,
    callback_bodies,
)
from tests.relay.test_fuzz import trickle  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "fuzz_relay.json"
ADMIN = "bench-admin"
MAX_BODY = 64 * 1024


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def status_of(client: httpx.Client, key: str) -> str:
    status: str = client.get(
        "/api/v1/payments/fuzz/status", headers={"authorization": f"Bearer {key}"}
    ).json()["status"]
    return status


def fuzz_callbacks(base_url: str, path: str, key: str, examples: int) -> dict[str, Any]:
    answers: Counter[int] = Counter()
    server_errors: list[str] = []
    largest = 0
    paid = 0
    with httpx.Client(base_url=base_url, timeout=30) as client:

        @fuzz_settings(examples)
        @given(callback_bodies(MAX_BODY))
        def probe(body: bytes) -> None:
            nonlocal largest, paid
            for target in (path, "/api/v1/payments/mpesa/callback"):
                answer = client.post(target, content=body, headers={"content-type": "application/json"})
                answers[answer.status_code] += 1
                if answer.status_code >= 500:
                    server_errors.append(repr(body[:200]))
                if answer.status_code == 200:
                    largest = max(largest, len(body))
            if answers.total() % 200 == 0 and status_of(client, key) != "pending":
                paid += 1

        probe()
        final = status_of(client, key)
    return {
        "requests": answers.total(),
        "answers": {str(code): count for code, count in sorted(answers.items())},
        "server_errors": server_errors[:20],
        "largest_body_acknowledged_bytes": largest,
        "pending_payment_final_status": final,
        "times_seen_paid": paid,
    }


def fuzz_api(base_url: str, key: str, examples: int) -> dict[str, Any]:
    answers: Counter[int] = Counter()
    server_errors: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        schema = client.get("/schema/openapi.json").json()

        @fuzz_settings(examples)
        @given(api_probes(schema, [key, ADMIN]))
        def probe(request: Probe) -> None:
            answer = client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
            answers[answer.status_code] += 1
            if answer.status_code >= 500:
                server_errors.append(f"{answer.status_code} {request!r}")

        probe()
    return {
        "requests": answers.total(),
        "answers": {str(code): count for code, count in sorted(answers.items())},
        "server_errors": server_errors[:20],
    }


async def slow_clients(base_url: str, path: str, count: int) -> dict[str, Any]:
    give_up = asyncio.Event()
    slow = [asyncio.create_task(trickle(base_url, path, give_up)) for _ in range(count)]
    await asyncio.sleep(2.0)
    latencies = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for n in range(10):
            started = time.perf_counter()
            answer = await client.post(path, content=stk_callback_bytes(f"ws_CO_HONEST_{n}", amount=1))
            latencies.append((time.perf_counter() - started, answer.status_code))
            await asyncio.sleep(0.2)
    # The head deadline (10 s) cuts the slow ones off; they stop once the relay has hung up.
    answers = await asyncio.wait_for(asyncio.gather(*slow), 60)
    give_up.set()
    return {
        "slow_connections": count,
        "honest_callback_s": [round(seconds, 4) for seconds, _ in latencies],
        "honest_statuses": sorted({status for _, status in latencies}),
        "slow_cut_off_408": sum(answer.startswith(b"HTTP/1.1 408") for answer in answers),
    }


async def prepare(database_url: str) -> tuple[str, str]:
    await upgrade(database_url)
    db = Database(database_url)
    try:
        till, key = await db.write(lambda c: create_till_key(c, "fuzz"))
    finally:
        await db.dispose()
    return key, till.callback_path


def run(database: str, database_url: str, workdir: Path, examples: int, slow: int) -> dict[str, Any]:
    key, path = asyncio.run(prepare(database_url))
    relay = RelayProcess(database_url, workdir, RELAY_LONG_POLL_MAX_S="0.05", RELAY_ADMIN_TOKEN=ADMIN)
    relay.start()
    try:
        asyncio.run(relay.wait_ready(120))
        assert relay.process is not None
        pid = relay.process.pid
        rss_start = memory_kb(pid, "VmRSS")
        with httpx.Client(base_url=relay.base_url) as client:
            registered = client.post(
                "/api/v1/payments",
                json={"order_id": "fuzz", "checkout_request_id": FUZZ_CHECKOUT_ID, "amount_kes": FUZZ_AMOUNT}
                | {"phone": "254708374149"},
                headers={"authorization": f"Bearer {key}"},
            )
            assert registered.status_code == 200, registered.text
        started = time.perf_counter()
        result: dict[str, Any] = {"database": database}
        result["callbacks"] = fuzz_callbacks(relay.base_url, path, key, examples)
        result["api"] = fuzz_api(relay.base_url, key, examples)
        result["slow"] = asyncio.run(slow_clients(relay.base_url, path, slow))
        result["seconds"] = round(time.perf_counter() - started, 1)
        result["rss_start_mb"] = round(rss_start / 1024, 1)
        result["rss_peak_mb"] = round(memory_kb(pid, "VmHWM") / 1024, 1)
        result["relay_alive"] = relay.process.poll() is None
        return result
    finally:
        relay.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=3000, help="bodies, and API requests, per database")
    parser.add_argument("--slow", type=int, default=300, help="trickling connections held at once")
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        runs.append(
            run("sqlite", f"sqlite+aiosqlite:///{workdir / 'relay.db'}", workdir, args.examples, args.slow)
        )
    if args.pg_url:
        with tempfile.TemporaryDirectory() as folder:
            runs.append(run("postgresql", args.pg_url, Path(folder), args.examples, args.slow))
    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "examples": args.examples,
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    for entry in runs:
        callbacks, api, slow = entry["callbacks"], entry["api"], entry["slow"]
        print(
            f"{entry['database']}: callbacks {callbacks['requests']} {callbacks['answers']}, "
            f"5xx {len(callbacks['server_errors'])}, "
            f"largest acknowledged {callbacks['largest_body_acknowledged_bytes']} B, "
            f"payment {callbacks['pending_payment_final_status']} "
            f"(seen paid {callbacks['times_seen_paid']}x)"
        )
        print(f"  api {api['requests']} {api['answers']}, 5xx {len(api['server_errors'])}")
        print(
            f"  slow {slow['slow_connections']}: honest callback max {max(slow['honest_callback_s'])} s "
            f"{slow['honest_statuses']}, cut off with 408: {slow['slow_cut_off_408']}"
        )
        print(f"  relay RSS {entry['rss_start_mb']} MB at start, peak {entry['rss_peak_mb']} MB")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
