"""Callback intake benchmark: the relay side by side with (a) a bare endpoint and (b) the plain way.

    .venv/bin/python benchmarks/relay_bench.py [--duration 10] [--connections 32]

Each server runs in its own process under uvicorn (uvloop + httptools) on loopback; the load comes from
`wrk` (a separate process; `apt-get install wrk`) with benchmarks/relay_post.lua, or from an httpx
client process when wrk is missing. Every request is a realistic paid STK callback with a unique
CheckoutRequestID, registered with the relay beforehand, so each one settles a payment.

- bare: a Litestar POST handler that reads the body and answers, nothing stored (the ceiling).
- plain: the handler commits each callback with a blocking SQLAlchemy session (SQLite, WAL), inline.
- relay: `relay.app.create_app`, group commit, answering only after the commit.

"Durable callbacks/s" counts rows actually in the database after the run, divided by the run time.
Long-poll wake: a till long-polls a payment's status, a callback settles it; we time from the
callback's acknowledgement (its commit is done by then) to the long-poll's answer.
Results are printed and written to benchmarks/results/relay.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, post

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

ACK = b'{"ResultCode":0,"ResultDesc":"Accepted"}'
CALLBACK_PATH = "/cb"
PHONE = "254708374149"


# -- the servers (run in child processes) -----------------------------------------------------------


def bare_app() -> Any:
    @post(CALLBACK_PATH, status_code=200)
    async def callback(request: Request[Any, Any, Any]) -> Response[bytes]:
        await request.body()
        return Response(ACK, media_type="application/json")

    return Litestar([callback], logging_config=None, openapi_config=None)


def plain_app(database_path: str) -> Any:
    """The plain way: a blocking SQLAlchemy session committing each callback inside the async handler.

    Kept lean on purpose (Core statements, no ORM objects), so the comparison flatters the plain way:
    store the raw request, parse, store the result once per CheckoutRequestID, commit, answer.
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from daraja_core.callback import CallbackParseError, parse_stk_callback
    from relay.models import RelayModel, raw_table, result_table, utcnow

    engine = sa.create_engine(f"sqlite:///{database_path}", connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    RelayModel.metadata.create_all(engine)

    @post(CALLBACK_PATH, status_code=200)
    async def callback(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await request.body()
        now = utcnow()
        with Session(engine) as session:
            raw_id = session.execute(
                sa.insert(raw_table)
                .values(
                    received_at=now,
                    path=CALLBACK_PATH,
                    source_ip=request.client.host if request.client else "",
                    headers=json.dumps(dict(request.headers)),
                    body=body,
                    status="received",
                )
                .returning(raw_table.c.id)
            ).scalar_one()
            checkout: str | None = None
            error_text: str | None = None
            try:
                parsed = parse_stk_callback(body)
            except CallbackParseError as error:
                status, error_text = "malformed", str(error)
            else:
                checkout = parsed.checkout_request_id
                stored: Any = session.execute(
                    sa.insert(result_table)
                    .prefix_with("OR IGNORE")
                    .values(
                        checkout_request_id=parsed.checkout_request_id,
                        raw_callback_id=raw_id,
                        merchant_request_id=parsed.merchant_request_id,
                        result_code=parsed.result_code,
                        result_desc=parsed.result_desc,
                        amount_text=None if parsed.amount is None else str(parsed.amount),
                        amount_kes=parsed.amount_kes,
                        receipt=parsed.receipt,
                        phone=parsed.phone,
                        transaction_date=parsed.transaction_date,
                        received_at=now,
                        duplicates=0,
                        contradictions=0,
                    )
                )
                status = "applied" if stored.rowcount else "duplicate"
            session.execute(
                sa.update(raw_table)
                .where(raw_table.c.id == raw_id)
                .values(status=status, error=error_text, checkout_request_id=checkout)
            )
            session.commit()
        return Response(ACK, media_type="application/json")

    return Litestar([callback], logging_config=None, openapi_config=None)


def serve(mode: str, port: int, database: str) -> None:
    import uvicorn

    if mode == "bare":
        app = bare_app()
    elif mode == "plain":
        app = plain_app(database)
    else:
        from relay.app import create_app
        from relay.settings import RelaySettings

        # As `mpesa-relay serve` runs it.
        app = create_app(RelaySettings(database_url=database, migrate_on_start=False), freeze_gc=True)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


# -- preparation ------------------------------------------------------------------------------------


async def prepare_relay(database_url: str, threads: int, per_thread: int) -> tuple[str, str]:
    """Migrate, create a till, register every payment the load will settle. Returns (key, path)."""
    import sqlalchemy as sa

    from relay.db import Database
    from relay.migrate import upgrade
    from relay.models import payment_table, utcnow
    from relay.tills import create_till_key

    await upgrade(database_url)
    db = Database(database_url)
    till, key = await db.write(lambda c: create_till_key(c, "bench"))
    now = utcnow()

    def register(connection: Any) -> None:
        rows = [
            {
                "till_id": till.id,
                "order_id": f"bench-{t}-{n}",
                "checkout_request_id": f"ws_CO_BENCH_{t}_{n}",
                "amount_kes": 10,
                "phone": PHONE,
                "status": "pending",
                "receipt": None,
                "result_code": None,
                "reason": "",
                "paid_amount_kes": None,
                "anomaly": None,
                "registered_at": now,
                "settled_at": None,
                "updated_at": now,
            }
            for t in range(1, threads + 1)
            for n in range(1, per_thread + 1)
        ]
        connection.execute(sa.insert(payment_table), rows)

    await db.write(register)
    await db.dispose()
    return key, till.callback_path


def count_rows(database_path: str, status: str | None = None) -> int:
    import sqlite3

    connection = sqlite3.connect(database_path)
    try:
        if status is None:
            return int(connection.execute("SELECT count(*) FROM raw_callback").fetchone()[0])
        return int(
            connection.execute("SELECT count(*) FROM payment WHERE status = ?", (status,)).fetchone()[0]
        )
    finally:
        connection.close()


# -- load --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(mode: str, database: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            mode,
            "--port",
            str(port),
            "--database",
            database,
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{mode} server did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, path: str, duration_s: int, connections: int, threads: int) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(HERE / "relay_post.lua"),
        url,
        "--",
        path,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = {"tool": "wrk"}
    result["requests_per_s"] = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    result["requests"] = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    for label in ("50%", "99%"):
        match = re.search(rf"^\s+{re.escape(label)}\s+(\S+)", output, re.MULTILINE)
        result[f"p{label[:-1]}_ms"] = _ms(match.group(1)) if match else None
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = socket_errors.group(1) if socket_errors else ""
    return result


def run_httpx_load(url: str, path: str, duration_s: int, connections: int) -> dict[str, Any]:
    """Fallback load generator in its own process (wrk missing)."""
    code = f"""
import asyncio, json, time, httpx
URL, DURATION, CONNECTIONS = {url + path!r}, {duration_s}, {connections}
TEMPLATE = (HERE_TEMPLATE)
async def worker(t, client, stop, lat):
    n = 0
    while time.perf_counter() < stop:
        n += 1
        body = TEMPLATE % (t, n, (t * 1000000 + n) % 10000000)
        s = time.perf_counter()
        r = await client.post(URL, content=body, headers={{"Content-Type": "application/json"}})
        lat.append(time.perf_counter() - s)
async def main():
    lat = []
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        start = time.perf_counter(); stop = start + DURATION
        await asyncio.gather(*(worker(t + 1, client, stop, lat) for t in range(CONNECTIONS)))
        took = time.perf_counter() - start
    lat.sort()
    print(json.dumps({{"requests": len(lat), "requests_per_s": len(lat) / took,
        "p50_ms": lat[len(lat) // 2] * 1e3, "p99_ms": lat[int(len(lat) * 0.99)] * 1e3}}))
asyncio.run(main())
"""
    template = (HERE / "relay_post.lua").read_text()
    body = re.search(r"template = (.*?)\n  headers", template, re.DOTALL).group(1)  # type: ignore[union-attr]
    python_template = " ".join(part.strip().strip("'") for part in body.split("..")).replace("' '", "")
    code = code.replace("(HERE_TEMPLATE)", repr(python_template.replace("%07d", "%07d")))
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    result = json.loads(output)
    result.update({"tool": "httpx", "non_2xx": 0, "socket_errors": ""})
    return result


async def measure_wake(base_url: str, key: str, callback_path: str, rounds: int) -> dict[str, Any]:
    import httpx

    from relay.simulate import stk_callback_bytes

    headers = {"Authorization": f"Bearer {key}"}
    from_ack: list[float] = []
    from_send: list[float] = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=15) as till,
        httpx.AsyncClient(base_url=base_url, timeout=15) as safaricom,
    ):
        for index in range(rounds):
            checkout = f"ws_CO_WAKE_{index}_{time.time_ns()}"
            order = f"wake-{index}"
            registered = await till.post(
                "/api/v1/payments",
                json={"order_id": order, "checkout_request_id": checkout, "amount_kes": 10, "phone": PHONE},
                headers=headers,
            )
            registered.raise_for_status()
            done_at: list[float] = []

            async def poll(order: str = order, done_at: list[float] = done_at) -> str:
                answer = await till.get(f"/api/v1/payments/{order}/status?wait=10", headers=headers)
                done_at.append(time.perf_counter())
                return str(answer.json()["status"])

            task = asyncio.create_task(poll())
            await asyncio.sleep(0.05)  # the long-poll is parked on the server
            sent = time.perf_counter()
            ack = await safaricom.post(
                callback_path, content=stk_callback_bytes(checkout, amount=10, phone=PHONE)
            )
            acked = time.perf_counter()
            assert ack.status_code == 200
            status = await task
            assert status == "completed", status
            from_send.append((done_at[0] - sent) * 1e3)
            from_ack.append(max(0.0, done_at[0] - acked) * 1e3)
    from_ack.sort()
    from_send.sort()
    return {
        "rounds": rounds,
        "after_ack_p50_ms": round(statistics.median(from_ack), 2),
        "after_ack_max_ms": round(from_ack[-1], 2),
        "after_send_p50_ms": round(statistics.median(from_send), 2),
        "after_send_p99_ms": round(from_send[int(len(from_send) * 0.99) - 1], 2),
    }


# -- the run -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--wake-rounds", type=int, default=50)
    parser.add_argument("--serve", choices=("bare", "plain", "relay"))
    parser.add_argument("--port", type=int)
    parser.add_argument("--database")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.database)
        return 0

    use_wrk = shutil.which("wrk") is not None
    work = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    load_threads = args.threads if use_wrk else args.connections
    # Enough registered payments for ~4,000 callbacks/s; any beyond are kept as orphans, still durable.
    per_thread = max(20_000, 4_000 * args.duration // load_threads)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "load": {
            "tool": "wrk" if use_wrk else "httpx",
            "connections": args.connections,
            "duration_s": args.duration,
            "threads": load_threads,
        },
        "servers": {},
    }

    def load(port: int, path: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{port}"
        if use_wrk:
            return run_wrk(url, path, args.duration, args.connections, load_threads)
        return run_httpx_load(url, path, args.duration, args.connections)

    try:
        print("bare: a Litestar endpoint that stores nothing …", flush=True)
        process, port = start_server("bare", "")
        try:
            results["servers"]["bare"] = load(port, CALLBACK_PATH)
        finally:
            stop_server(process)

        print("plain: blocking SQLAlchemy session, one commit per callback (WAL) …", flush=True)
        plain_db = str(work / "plain.db")
        process, port = start_server("plain", plain_db)
        try:
            plain = load(port, CALLBACK_PATH)
        finally:
            stop_server(process)
        plain["durable_rows"] = count_rows(plain_db)
        plain["durable_per_s"] = round(plain["durable_rows"] / args.duration, 1)
        results["servers"]["plain"] = plain

        print("relay: group commit, acknowledged after the commit …", flush=True)
        relay_db = work / "relay.db"
        relay_url = f"sqlite+aiosqlite:///{relay_db}"
        key, callback_path = asyncio.run(prepare_relay(relay_url, load_threads, per_thread))
        process, port = start_server("relay", relay_url)
        try:
            relay = load(port, callback_path)
            print("relay: long-poll wake latency …", flush=True)
            relay["long_poll_wake"] = asyncio.run(
                measure_wake(f"http://127.0.0.1:{port}", key, callback_path, args.wake_rounds)
            )
        finally:
            stop_server(process)
        relay["durable_rows"] = count_rows(str(relay_db)) - args.wake_rounds
        relay["settled_payments"] = count_rows(str(relay_db), "completed") - args.wake_rounds
        relay["durable_per_s"] = round(relay["durable_rows"] / args.duration, 1)
        results["servers"]["relay"] = relay
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bare, plain, relay = (results["servers"][name] for name in ("bare", "plain", "relay"))
    results["relay_vs_plain_throughput"] = round(
        relay["durable_per_s"] / max(plain["durable_per_s"], 1e-9), 2
    )
    results["goals"] = {
        "throughput_at_least_1_5x_plain": results["relay_vs_plain_throughput"] >= 1.5,
        "p99_under_50ms": relay["p99_ms"] is not None and relay["p99_ms"] < 50,
        "wake_within_20ms_of_commit": relay["long_poll_wake"]["after_ack_max_ms"] <= 20,
    }
    print()
    print(f"{'server':<8} {'req/s':>9} {'durable/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, row in (("bare", bare), ("plain", plain), ("relay", relay)):
        durable = row.get("durable_per_s", "-")
        print(
            f"{name:<8} {row['requests_per_s']:>9.0f} {durable!s:>10} "
            f"{row['p50_ms']!s:>8} {row['p99_ms']!s:>8} {row['non_2xx']:>8}"
        )
    wake = relay["long_poll_wake"]
    print(
        f"long-poll wake: p50 {wake['after_ack_p50_ms']} ms, "
        f"max {wake['after_ack_max_ms']} ms after the ack; "
        f"p50 {wake['after_send_p50_ms']} ms after sending the callback"
    )
    print(
        f"relay / plain durable throughput: {results['relay_vs_plain_throughput']}x; "
        f"goals: {results['goals']}"
    )
    out = HERE / "results" / "relay.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
