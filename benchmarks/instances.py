"""Relay instances on one PostgreSQL: intake with one and with two instances, and the cross-instance wake.

1. Intake: `--connections` keep-alive connections (spread evenly over the instances) each POST a paid STK
   callback, wait for its 200 and send the next, for `--duration` seconds; every callback settles a
   registered payment of one of `--tills` tills. Acknowledged callbacks per second, callback latency, and
   each instance's CPU (% of one core). Run with one instance, then with two, each on a fresh database.
2. Cross-instance wake: `--polls` status long-polls (`?wait=30`) held on instance B; their callbacks are
   POSTed to instance A 100 ms apart. From A's 200 (its commit is done by then) to B's answer: p50/p95.
   The wake travels by PostgreSQL's LISTEN/NOTIFY (relay/notify.py).

Each instance is `mpesa-relay serve` in a process of its own (benchmarks/long_poll_scale.py `start_relay`);
the load is this process's small HTTP/1.1 client. The machine's load averages are recorded with each phase.

Run: `.venv/bin/python benchmarks/instances.py [--duration 15] [--connections 32] [--tills 20] [--polls 50]`.
Prints a summary and writes benchmarks/results/instances.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from long_poll_scale import (
    ROOT,
    Connection,
    cpu_seconds,
    git_head,
    machine_load,
    percentiles,
    prepare,
    scratch_database,
    start_relay,
)

from relay.simulate import stk_callback_bytes

CALLBACKS_PER_S_CEILING = 4000  # payments registered per second of intake, more than two relays take here


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def intake(instances: int, duration_s: float, connections: int, tills_count: int) -> dict[str, Any]:
    load_before = machine_load()
    with tempfile.TemporaryDirectory(prefix="instances-") as temporary:
        folder = Path(temporary)
        async with scratch_database("postgres", folder) as database_url:
            tills = await prepare(database_url, tills_count, CALLBACKS_PER_S_CEILING, duration_s)
            started = start_instances(database_url, folder, instances)
            processes = [process for process, _port in started]
            try:
                queue = [(order, till.path) for till in tills for order in till.filler]
                queue.reverse()
                latencies: list[float] = []
                errors = 0
                cpu_start = [cpu_seconds(process.pid) for process in processes]
                begun = time.perf_counter()
                deadline = begun + duration_s

                async def sender(port: int) -> None:
                    nonlocal errors
                    connection = await Connection.open(port)
                    try:
                        while queue and time.perf_counter() < deadline:
                            order, path = queue.pop()
                            sent = time.perf_counter()
                            status, _ = await connection.request(
                                "POST", path, body=stk_callback_bytes(order, amount=10)
                            )
                            latencies.append(time.perf_counter() - sent)
                            if status != 200:
                                errors += 1
                    finally:
                        connection.close()

                await asyncio.gather(*(sender(started[n % instances][1]) for n in range(connections)))
                elapsed = time.perf_counter() - begun
                cpu = [
                    round((cpu_seconds(process.pid) - start) / elapsed * 100, 1)
                    for process, start in zip(processes, cpu_start, strict=True)
                ]
            finally:
                stop(processes)
    return {
        "instances": instances,
        "callbacks_per_s": round(len(latencies) / elapsed, 1),
        "callbacks": len(latencies),
        "errors": errors,
        "callback": percentiles(latencies),
        "relay_cpu_percent": cpu,
        "load_average_before": load_before,
        "load_average_after": machine_load(),
    }


def start_instances(database_url: str, folder: Path, count: int) -> list[tuple[subprocess.Popen[bytes], int]]:
    """`count` relays on one database, each logging into a folder of its own."""
    started = []
    for n in range(count):
        (folder / str(n)).mkdir()
        started.append(start_relay(ROOT, database_url, folder / str(n)))
    return started


async def cross_instance_wake(polls: int) -> dict[str, Any]:
    load_before = machine_load()
    with tempfile.TemporaryDirectory(prefix="instances-") as temporary:
        folder = Path(temporary)
        async with scratch_database("postgres", folder) as database_url:
            tills = await prepare(database_url, 1, polls, 1)
            till = tills[0]
            orders = till.filler[:polls]
            started = start_instances(database_url, folder, 2)
            (process_a, port_a), (process_b, port_b) = started
            try:
                answered: dict[str, float] = {}
                acked: dict[str, float] = {}

                async def hold(order: str) -> None:
                    connection = await Connection.open(port_b)
                    try:
                        status, body = await connection.request(
                            "GET", f"/api/v1/payments/{order}/status?wait=30", till.key
                        )
                        if status == 200 and json.loads(body)["status"] != "pending":
                            answered[order] = time.perf_counter()
                    finally:
                        connection.close()

                holders = [asyncio.create_task(hold(order)) for order in orders]
                await asyncio.sleep(2.0)  # every long-poll has read once and is parked on B
                sender = await Connection.open(port_a)
                try:
                    for order in orders:
                        await sender.request("POST", till.path, body=stk_callback_bytes(order, amount=10))
                        acked[order] = time.perf_counter()
                        await asyncio.sleep(0.1)
                finally:
                    sender.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*holders), timeout=40)
            finally:
                stop([process_a, process_b])
    wake = [answered[order] - acked[order] for order in orders if order in answered and order in acked]
    return {
        "polls": polls,
        "answered": len(wake),
        "wake": percentiles(wake),
        "load_average_before": load_before,
        "load_average_after": machine_load(),
    }


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of intake per phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tills", type=int, default=20)
    parser.add_argument("--polls", type=int, default=50)
    args = parser.parse_args()
    runs = []
    for instances in (1, 2):
        result = await intake(instances, args.duration, args.connections, args.tills)
        runs.append(result)
        callback = result["callback"]
        print(
            f"intake, {instances} instance(s): {result['callbacks_per_s']} callbacks/s "
            f"({result['callbacks']}, {result['errors']} errors), p50/p99 {callback.get('p50_ms')}/"
            f"{callback.get('p99_ms')} ms, relay CPU {result['relay_cpu_percent']} %; "
            f"load average {result['load_average_before']} -> {result['load_average_after']}",
            flush=True,
        )
    wake = await cross_instance_wake(args.polls)
    print(
        f"cross-instance wake: p50/p95/max {wake['wake'].get('p50_ms')}/{wake['wake'].get('p95_ms')}/"
        f"{wake['wake'].get('max_ms')} ms ({wake['answered']} of {wake['polls']} answered); "
        f"load average {wake['load_average_before']} -> {wake['load_average_after']}",
        flush=True,
    )
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "relay": {"commit": git_head(ROOT)},
        "settings": vars(args),
        "intake": runs,
        "cross_instance_wake": wake,
    }
    out = ROOT / "benchmarks" / "results" / "instances.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
