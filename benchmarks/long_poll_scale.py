"""Long-polls at scale: many held status and feed long-polls while callbacks keep arriving.

For each size H (default 20, 200 and 2,000 held long-polls): H/10 tills, each holding one feed long-poll
(`/api/v1/results?after=N&wait=30`) and nine status long-polls (`/api/v1/payments/{order}/status?wait=30`),
every one on its own keep-alive connection, as a till would.

1. Idle: all H long-polls are opened and left waiting (no callbacks) for `--idle` seconds; the relay's
   CPU over that window (% of one core) and its memory per held long-poll (RSS with them held minus RSS
   before, over H).
2. Load: callbacks arrive at `--rate` per second for `--duration` seconds. A status long-poll's payment
   gets its callback 2 to 18 s after the poll opened (so about 0.9 x H / 10 s of the callbacks settle a
   held poll; the rest settle payments nobody polls); once answered, that slot polls its next payment.
   Each feed long-poll re-polls from its new cursor as soon as it answers.
   settle: from a callback's HTTP 200 (its commit is done by then) to the answer of the status long-poll
   it settles (p50/p95/p99; as benchmarks/long_poll.py, the wake alone; a poll may answer a little before
   the 200 reaches the sender, hence values just under 0); end_to_end: from sending the callback instead;
   feed: from sending a callback to the till's feed long-poll delivering it; callback: send to HTTP 200.
   missed: callbacks for a held payment whose status long-poll had not answered "settled" 30 s later.

The relay runs as its own process (`mpesa-relay serve` on loopback, a SQLite file in a temporary folder or,
with `--database postgres`, a new database on 127.0.0.1:5432 dropped afterwards; log level warning) from
this checkout or from `--relay-root` (to measure another version of the relay with
the same load), so its CPU and memory are its own (read from /proc). The load is a small HTTP/1.1 client
on asyncio streams in this process (httpx would spend more CPU than the relay at 2,000 connections).

Run: `.venv/bin/python benchmarks/long_poll_scale.py [--held 20,200,2000] [--rate 200] [--duration 30]
[--relay-root PATH] [--label after] [--database sqlite|postgres]`. Each run records the load averages
before and after it (the machine may be shared). `BENCH_PROFILE=FILE` runs the relay under cProfile
and leaves its stats in FILE (read them with `python -m pstats FILE`). Prints a summary and writes
benchmarks/results/long_poll_scale-<label>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from relay.db import Database  # noqa: E402
from relay.migrate import upgrade  # noqa: E402
from relay.models import payment_table, utcnow  # noqa: E402
from relay.simulate import stk_callback_bytes  # noqa: E402
from relay.tills import create_till_key  # noqa: E402

PHONE = "254708374149"
STATUS_PER_TILL = 9
ROUNDS_PER_SLOT = 8
HOLD_S = (2.0, 18.0)
WAIT_S = 30
MISSED_AFTER_S = 30.0
SENDERS = 64
PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class Connection:
    """One HTTP/1.1 keep-alive connection: a request, then its whole answer (Content-Length framed)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, key: str = "", body: bytes = b"") -> tuple[int, bytes]:
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        answer_head = await self.reader.readuntil(b"\r\n\r\n")
        lines = answer_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Till:
    key: str
    path: str
    slots: list[list[str]]  # per status slot, its payments' order ids (= checkout ids)
    filler: list[str]


@dataclass
class Load:
    port: int
    stopping: bool = False
    load_start: float = 0.0
    due: list[tuple[float, str, str]] = field(default_factory=list)  # (when, order, callback path)
    sent_at: dict[str, float] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)
    held_orders: set[str] = field(default_factory=set)
    settled_at: dict[str, float] = field(default_factory=dict)
    feed_at: dict[str, float] = field(default_factory=dict)
    callback_s: list[float] = field(default_factory=list)
    callback_errors: int = 0
    poll_errors: int = 0
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # a status long-poll answered settled


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 1)

    return {
        "count": len(ordered),
        "p50_ms": at(0.5),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": at(1.0),
    }


async def prepare(database_url: str, tills: int, rate: float, duration_s: float) -> list[Till]:
    """Migrate, create the tills, register every payment the run will poll or settle (pending)."""
    await upgrade(database_url)
    db = Database(database_url)
    filler_per_till = int(rate * duration_s / tills) + 50
    made: list[Till] = []
    now = utcnow()
    try:
        for index in range(tills):
            till, key = await db.write(lambda c, index=index: create_till_key(c, f"till-{index}"))
            slots = [
                [f"ws_CO_{index}_{slot}_{n}" for n in range(ROUNDS_PER_SLOT)]
                for slot in range(STATUS_PER_TILL)
            ]
            filler = [f"ws_CO_{index}_f_{n}" for n in range(filler_per_till)]
            rows = [
                {
                    "till_id": till.id,
                    "order_id": order,
                    "checkout_request_id": order,
                    "amount_kes": 10,
                    "phone": PHONE,
                    "status": "pending",
                    "reason": "",
                    "registered_at": now,
                    "updated_at": now,
                }
                for order in [*(o for s in slots for o in s), *filler]
            ]
            await db.write(lambda c, rows=rows: c.execute(sa.insert(payment_table), rows))
            made.append(Till(key, till.callback_path, slots, filler))
    finally:
        await db.dispose()
    return made


def start_relay(relay_root: Path, database_url: str, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    serve = f"main(['serve', '--host', '127.0.0.1', '--port', '{port}', '--log-level', 'warning'])"
    code = f"import sys; from relay.cli import main; sys.exit({serve})"
    profile = os.environ.get("BENCH_PROFILE")  # a file: the relay runs under cProfile, its stats go there
    if profile:
        code = f"import cProfile; from relay.cli import main; cProfile.run({serve!r}, {profile!r})"
    environment = {**os.environ, "PYTHONPATH": str(relay_root), "DATABASE_URL": database_url}
    with (folder / "relay.log").open("wb") as log:  # its shutdown complaints about cut long-polls stay here
        process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=folder, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the relay did not start")


async def status_slot(load: Load, till: Till, orders: list[str]) -> None:
    connection = await Connection.open(load.port)
    try:
        for order in orders:
            first = True
            while True:
                opened = time.perf_counter()
                if first:
                    first = False
                    start = max(opened, load.load_start)
                    heapq.heappush(load.due, (start + random.uniform(*HOLD_S), order, till.path))
                    load.held_orders.add(order)
                status, body = await connection.request(
                    "GET", f"/api/v1/payments/{order}/status?wait={WAIT_S}", till.key
                )
                answered = time.perf_counter()
                if status != 200:
                    load.poll_errors += 1
                    continue
                if json.loads(body)["status"] != "pending":
                    load.settled_at[order] = answered
                    load.answered.set()
                    break
                if load.stopping:
                    return
            if load.stopping:
                return
    finally:
        connection.close()


async def feed_slot(load: Load, till: Till) -> None:
    connection = await Connection.open(load.port)
    after = 0
    try:
        while not load.stopping:
            status, body = await connection.request(
                "GET", f"/api/v1/results?after={after}&wait={WAIT_S}&limit=500", till.key
            )
            answered = time.perf_counter()
            if status != 200:
                load.poll_errors += 1
                continue
            page = json.loads(body)
            for item in page["items"]:
                load.feed_at.setdefault(item["order_id"], answered)
            after = page["next_after"]
    finally:
        connection.close()


async def send_callbacks(load: Load, tills: list[Till], rate: float, duration_s: float) -> float:
    """Callbacks at `rate`/s: a held payment whose time has come, else one nobody polls."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(SENDERS):
        pool.put_nowait(await Connection.open(load.port))
    fillers = [(order, till.path) for till in tills for order in till.filler]
    random.shuffle(fillers)
    tasks: set[asyncio.Task[None]] = set()

    async def send(order: str, path: str) -> None:
        connection = await pool.get()
        try:
            sent = time.perf_counter()
            load.sent_at[order] = sent
            status, _ = await connection.request("POST", path, body=stk_callback_bytes(order, amount=10))
            load.acked_at[order] = time.perf_counter()
            load.callback_s.append(load.acked_at[order] - sent)
            if status != 200:
                load.callback_errors += 1
        finally:
            pool.put_nowait(connection)

    start = load.load_start
    count = 0
    while True:
        now = time.perf_counter()
        if now - start >= duration_s:
            break
        target = start + count / rate
        if target > now:
            await asyncio.sleep(target - now)
            now = time.perf_counter()
        if load.due and load.due[0][0] <= now:
            _, order, path = heapq.heappop(load.due)
        else:
            order, path = fillers.pop()
        task = asyncio.create_task(send(order, path))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        count += 1
    sent_for = time.perf_counter() - start
    if tasks:
        await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return count / sent_for


async def run_size(
    held: int, rate: float, duration_s: float, idle_s: float, relay_root: Path, database: str
) -> dict[str, Any]:
    tills_count = max(1, held // (STATUS_PER_TILL + 1))
    load_before = machine_load()
    async with contextlib.AsyncExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="long-poll-scale-")))
        database_url = await stack.enter_async_context(scratch_database(database, folder))
        tills = await prepare(database_url, tills_count, rate, duration_s)
        process, port = start_relay(relay_root, database_url, folder)
        try:
            load = Load(port, load_start=float("inf"))
            warm = await Connection.open(port)
            for till in tills:
                await warm.request("GET", "/api/v1/till", till.key)
            warm.close()
            await asyncio.sleep(1.0)
            rss_before = rss_bytes(process.pid)
            tasks = [asyncio.create_task(feed_slot(load, till)) for till in tills]
            tasks += [
                asyncio.create_task(status_slot(load, till, orders))
                for till in tills
                for orders in till.slots
            ]
            await asyncio.sleep(3.0 + held / 500)  # every poll has read once and is parked
            cpu_idle_start, idle_started = cpu_seconds(process.pid), time.perf_counter()
            await asyncio.sleep(idle_s)
            idle_cpu = (cpu_seconds(process.pid) - cpu_idle_start) / (time.perf_counter() - idle_started)
            rss_held = rss_bytes(process.pid)
            # The polls opened so far have waited a while: their payments' callbacks come within 15 s.
            load.load_start = time.perf_counter()
            for index, (_, order, path) in enumerate(load.due):
                load.due[index] = (load.load_start + random.uniform(0.0, 15.0), order, path)
            heapq.heapify(load.due)
            cpu_load_start = cpu_seconds(process.pid)
            achieved = await send_callbacks(load, tills, rate, duration_s)
            load_cpu = (cpu_seconds(process.pid) - cpu_load_start) / (time.perf_counter() - load.load_start)
            load.stopping = True
            give_up = time.perf_counter() + MISSED_AFTER_S
            while any(o not in load.settled_at for o in load.held_orders if o in load.sent_at):
                load.answered.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(load.answered.wait(), max(0.0, give_up - time.perf_counter()))
                if time.perf_counter() >= give_up:
                    break
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    answered = [o for o in load.held_orders if o in load.acked_at and o in load.settled_at]
    settle = [load.settled_at[o] - load.acked_at[o] for o in answered]
    end_to_end = [load.settled_at[o] - load.sent_at[o] for o in answered]
    missed = sum(
        1
        for o in load.held_orders
        if o in load.sent_at
        and (o not in load.settled_at or load.settled_at[o] - load.sent_at[o] > MISSED_AFTER_S)
    )
    feed = [load.feed_at[o] - load.sent_at[o] for o in load.feed_at if o in load.sent_at]
    return {
        "database": database,
        "load_average_before": load_before,
        "load_average_after": machine_load(),
        "held": tills_count * (STATUS_PER_TILL + 1),
        "tills": tills_count,
        "callbacks_per_s": round(achieved, 1),
        "callbacks": len(load.callback_s),
        "callback_errors": load.callback_errors,
        "poll_errors": load.poll_errors,
        "settle": percentiles(settle),
        "end_to_end": percentiles(end_to_end),
        "missed": missed,
        "feed": percentiles(feed),
        "callback": percentiles(load.callback_s),
        "idle_cpu_percent": round(idle_cpu * 100, 1),
        "load_cpu_percent": round(load_cpu * 100, 1),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_held_mb": round(rss_held / 2**20, 1),
        "kb_per_held_long_poll": round(
            (rss_held - rss_before) / 1024 / (tills_count * (STATUS_PER_TILL + 1)), 1
        ),
    }


def machine_load() -> list[float]:
    """The 1, 5 and 15 minute load averages (`uptime`): the machine is shared, so every number carries it."""
    return [round(value, 2) for value in os.getloadavg()]


@contextlib.asynccontextmanager
async def scratch_database(database: str, folder: Path) -> AsyncIterator[str]:
    """A SQLite file in `folder`, or a new PostgreSQL database on 127.0.0.1:5432 dropped afterwards."""
    if database == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'relay.db'}"
        return
    import asyncpg

    name = f"relay_bench_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
    admin = await asyncpg.connect(PG_SERVER)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def git_head(root: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--held", default="20,200,2000", help="sizes, comma separated")
    parser.add_argument("--rate", type=float, default=200.0, help="callbacks per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of callbacks")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle holding (CPU window)")
    parser.add_argument("--relay-root", type=Path, default=ROOT, help="the checkout whose relay to run")
    parser.add_argument("--label", default="after", help="names the result file")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    runs = []
    for held in (int(size) for size in args.held.split(",")):
        result = await run_size(
            held, args.rate, args.duration, args.idle, args.relay_root.resolve(), args.database
        )
        runs.append(result)
        settle, feed, callback = result["settle"], result["feed"], result["callback"]
        print(
            f"held {result['held']:>5}: settle p50/p95/p99 {settle.get('p50_ms')}/{settle.get('p95_ms')}/"
            f"{settle.get('p99_ms')} ms (n={settle['count']}, missed {result['missed']}), "
            f"end-to-end p95 {result['end_to_end'].get('p95_ms')} ms, "
            f"feed p95 {feed.get('p95_ms')} ms, callback p99 {callback.get('p99_ms')} ms, "
            f"{result['callbacks_per_s']} cb/s; idle CPU {result['idle_cpu_percent']} %, "
            f"load CPU {result['load_cpu_percent']} %, {result['kb_per_held_long_poll']} KiB/held poll; "
            f"load average {result['load_average_before']} -> {result['load_average_after']}",
            flush=True,
        )
    load_average = [round(value, 2) for value in os.getloadavg()]
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_after": load_average,
        },
        "relay": {"root": str(args.relay_root), "commit": git_head(args.relay_root)},
        "settings": {"rate": args.rate, "duration_s": args.duration, "idle_s": args.idle},
        "runs": runs,
    }
    out = ROOT / "benchmarks" / "results" / f"long_poll_scale-{args.label}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
